import assert from "node:assert/strict";
import { backoffMs, Limiter, sleep } from "./async.ts";

Deno.test("backoffMs doubles from its base up to its cap; jitter stays in the upper half", () => {
  assert.deepEqual([0, 1, 2, 5, 6, 50].map((a) => backoffMs(a)), [50, 100, 200, 1600, 2000, 2000]);
  assert.equal(backoffMs(3, { baseMs: 20, maxMs: 1000 }), 160);
  for (let i = 0; i < 100; i++) {
    const d = backoffMs(4, { baseMs: 20, maxMs: 1000, jitter: true });
    assert.ok(d >= 160 && d <= 320, String(d));
  }
});

Deno.test("sleep wakes at once when its signal aborts", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const slept = sleep(10_000, controller.signal);
  controller.abort();
  await slept;
  assert.ok(performance.now() - started < 1000);
});

Deno.test("Limiter holds at most its size and serves waiters in order", async () => {
  const limiter = new Limiter(2);
  await limiter.acquire();
  await limiter.acquire();
  assert.equal(limiter.free, 0);
  const order: number[] = [];
  const a = limiter.acquire().then(() => order.push(1));
  const b = limiter.acquire().then(() => order.push(2));
  assert.equal(limiter.waiting, 2);
  limiter.release();
  await a;
  limiter.release();
  await b;
  assert.deepEqual(order, [1, 2]);
  limiter.release();
  limiter.release();
  assert.equal(limiter.free, 2);
});
