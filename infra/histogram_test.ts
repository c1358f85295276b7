import assert from "node:assert/strict";
import {
  createLatencyHistogram,
  type LatencySummary,
  recordMs,
  summarize,
  WindowedHistogram,
} from "./histogram.ts";

function assertWithinMinMax(s: LatencySummary, min: number): void {
  for (const key of ["p50", "p95", "p99", "mean"] as const) {
    assert.ok(s[key] >= min && s[key] <= s.max, `${key} ${s[key]} outside [${min}, ${s.max}]`);
  }
}

Deno.test("percentiles never exceed the max nor fall below the min (HDR bucket tops do)", () => {
  // 174.41 ms lands in a bucket whose top is 174.463 ms: unclamped, p99 reads 174.463 > max.
  const one = createLatencyHistogram();
  recordMs(one, 174.41);
  const s = summarize(one);
  assert.deepEqual(s, {
    count: 1,
    p50: 174.41,
    p95: 174.41,
    p99: 174.41,
    max: 174.41,
    mean: 174.41,
  });
  const many = createLatencyHistogram();
  for (let i = 0; i < 1000; i++) recordMs(many, 3.217 + (i % 7) * 20.01);
  recordMs(many, 174.41);
  assertWithinMinMax(summarize(many), 3.217);
});

Deno.test("the window forgets values older than 10 s", () => {
  let now = 1_000_000;
  const w = new WindowedHistogram({ now: () => now });
  assert.equal(w.windowMs, 10_000);
  assert.equal(w.summarize().count, 0);
  w.recordMs(500); // at t = 0
  now += 4_000;
  w.recordMs(5); // at t = 4 s
  w.recordMs(7);
  assert.deepEqual([w.summarize().count, w.summarize().max], [3, 500]);
  now += 5_999; // t = 9.999 s: everything is within the window
  assert.equal(w.summarize().count, 3);
  now += 1; // t = 10 s: the value of t = 0 is out, those of t = 4 s are in
  assert.deepEqual([w.summarize().count, w.summarize().max], [2, 7]);
  w.recordMs(9); // the slot of t = 0 is reused for t = 10 s: its old value does not come back
  assert.deepEqual([w.summarize().count, w.summarize().max], [3, 9]);
  now += 4_000; // t = 14 s: the values of t = 4 s are out
  assert.deepEqual([w.summarize().count, w.summarize().max], [1, 9]);
  now += 60_000; // long idle: nothing left
  assert.deepEqual(w.summarize(), {
    seconds: 10,
    count: 0,
    p50: 0,
    p95: 0,
    p99: 0,
    max: 0,
    mean: 0,
  });
  w.recordMs(2);
  assert.equal(w.summarize().count, 1);
});
