import assert from "node:assert/strict";
import { createLatencyHistogram, type LatencySummary, recordMs, summarize } from "./histogram.ts";

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
