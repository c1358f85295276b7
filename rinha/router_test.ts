import assert from "node:assert/strict";
import { DEFAULT_POLICY, Router } from "./router.ts";

const policy = { ...DEFAULT_POLICY, fallbackAfterMs: 1000, probeIntervalMs: 200 };
const health = (failing: boolean, minResponseTime = 0, checkedAt = 1000) => ({
  failing,
  minResponseTime,
  checkedAt,
});

Deno.test("router: default first while healthy and not much slower", () => {
  const r = new Router(policy);
  assert.deepEqual(r.choices(0, 2000), ["default", "fallback"], "no reports yet: optimistic");
  r.updateHealth("default", health(false, 100));
  r.updateHealth("fallback", health(false, 0));
  assert.deepEqual(r.choices(0, 2000), ["default", "fallback"]);
  r.updateHealth("default", health(false, 101, 1001));
  assert.deepEqual(r.choices(0, 2000), ["fallback", "default"], "over fallback × 3 + 100 ms");
  r.updateHealth("default", health(false, 0, 999));
  assert.equal(r.responseTime("default"), 101, "an older report does not replace a newer one");
});

Deno.test("router: default down sends only payments that waited fallbackAfterMs to fallback", () => {
  const r = new Router(policy);
  r.updateHealth("default", health(true));
  r.updateHealth("fallback", health(false));
  assert.deepEqual(r.choices(1000, 2000), ["fallback"]);
  assert.deepEqual(r.choices(10, 2000), ["default"], "a young payment probes default");
  assert.deepEqual(r.choices(10, 2100), [], "one probe per interval");
  assert.deepEqual(r.choices(10, 2200), ["default"]);
});

Deno.test("router: outcomes newer than the health report win", () => {
  const r = new Router(policy);
  r.updateHealth("default", health(false, 0, 1000));
  r.updateHealth("fallback", health(false, 0, 1000));
  r.observe("default", false, 1500);
  assert.equal(r.isUp("default"), false);
  assert.deepEqual(r.choices(5000, 1600), ["fallback"]);
  r.observe("default", true, 1700);
  assert.deepEqual(r.choices(0, 1800), ["default", "fallback"]);
  r.observe("default", false, 1900);
  r.updateHealth("default", health(false, 0, 2000));
  assert.equal(r.isUp("default"), true, "a newer report says it recovered");
});

Deno.test("router: both down means wait, with rare probes", () => {
  const r = new Router(policy);
  r.updateHealth("default", health(true));
  r.updateHealth("fallback", health(true));
  assert.deepEqual(r.choices(5000, 2000), ["default"]);
  assert.deepEqual(r.choices(5000, 2050), ["fallback"], "an old payment may probe fallback");
  assert.deepEqual(r.choices(5000, 2100), []);
  assert.deepEqual(r.choices(10, 2300), ["default"]);
  assert.deepEqual(r.choices(10, 2350), [], "a young payment never probes fallback");
});

Deno.test("router: the expected latency follows what payments take, never below minResponseTime", () => {
  const r = new Router(policy);
  assert.equal(r.expectedLatency("default"), 0);
  r.updateHealth("default", health(false, 100));
  assert.equal(r.expectedLatency("default"), 100);
  r.observe("default", true, 2000, 400);
  assert.equal(r.expectedLatency("default"), 400, "the first observation is taken as is");
  r.observe("default", true, 2001, 300);
  assert.equal(r.expectedLatency("default"), 390, "then a moving average");
  for (let i = 0; i < 100; i++) r.observe("default", true, 2002 + i, 1);
  assert.equal(r.expectedLatency("default"), 100, "floored at minResponseTime");
  r.observe("fallback", false, 2000, 5000);
  assert.equal(r.expectedLatency("fallback"), 0, "failures do not count");
});
