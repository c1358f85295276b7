import assert from "node:assert/strict";
import { RateWindow } from "./rate.ts";

Deno.test("rate is the counter's slope over the window", () => {
  const rate = new RateWindow(2000);
  assert.equal(rate.perSecond(), undefined);
  rate.add(0, 100);
  assert.equal(rate.perSecond(), undefined);
  rate.add(500, 150);
  assert.equal(rate.perSecond(), 100);
  rate.add(1000, 300);
  assert.equal(rate.perSecond(), 200);
  // After 3 s the first samples leave the window: only 2500..3000 ms and the sample before remain.
  rate.add(2500, 300);
  rate.add(3000, 1300);
  assert.equal(rate.spanMs(), 2000);
  assert.equal(rate.perSecond(), (1300 - 300) / 2);
});

Deno.test("a counter reset starts the window again", () => {
  const rate = new RateWindow(5000);
  rate.add(0, 1000);
  rate.add(1000, 2000);
  rate.add(2000, 10);
  assert.equal(rate.perSecond(), undefined);
  rate.add(2500, 60);
  assert.equal(rate.perSecond(), 100);
});
