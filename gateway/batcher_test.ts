import assert from "node:assert/strict";
import type { PaymentMessage } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import { EnqueueBatcher } from "./batcher.ts";

function recorder(fail = false) {
  const batches: number[] = [];
  return {
    batches,
    enqueuer: {
      design: "fake",
      enqueue(_redis: Redis, batch: readonly PaymentMessage[]) {
        batches.push(batch.length);
        return fail ? Promise.reject(new Error("boom")) : Promise.resolve();
      },
    },
  };
}

const redis = {} as Redis;
const payments = (n: number) => Array.from({ length: n }, () => makePayment({ backendId: "1" }));

Deno.test("payments added together share one enqueue call", async () => {
  const r = recorder();
  const batcher = new EnqueueBatcher(redis, r.enqueuer, { maxBatch: 100, maxDelayMs: 1 });
  await Promise.all(payments(10).map((p) => batcher.add(p)));
  assert.deepEqual(r.batches, [10]);
});

Deno.test("a full batch goes at once; the rest after the delay", async () => {
  const r = recorder();
  const sizes: number[] = [];
  const batcher = new EnqueueBatcher(redis, r.enqueuer, {
    maxBatch: 4,
    maxDelayMs: 1,
    onBatch: (size) => sizes.push(size),
  });
  await Promise.all(payments(10).map((p) => batcher.add(p)));
  assert.deepEqual(r.batches, [4, 4, 2]);
  assert.deepEqual(sizes, [4, 4, 2]);
});

Deno.test("a failed enqueue rejects every request of its batch", async () => {
  const r = recorder(true);
  const errors: unknown[] = [];
  const batcher = new EnqueueBatcher(redis, r.enqueuer, {
    maxBatch: 100,
    maxDelayMs: 1,
    onBatch: (_, error) => errors.push(error),
  });
  const results = await Promise.allSettled(payments(3).map((p) => batcher.add(p)));
  assert.deepEqual(results.map((x) => x.status), ["rejected", "rejected", "rejected"]);
  assert.equal(errors.length, 1);
});

Deno.test("drain sends what is waiting without the delay", async () => {
  const r = recorder();
  const batcher = new EnqueueBatcher(redis, r.enqueuer, { maxBatch: 100, maxDelayMs: 10_000 });
  const added = batcher.add(payments(1)[0]);
  await batcher.drain();
  await added;
  assert.deepEqual(r.batches, [1]);
});
