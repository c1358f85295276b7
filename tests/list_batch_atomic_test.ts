/**
 * `apply_list_batch` against a real redis-server is all or nothing, like the stream consumer's
 * `process_batch`: when a key every payload needs holds the wrong type, the whole batch is refused
 * before the first write (no confirmation, mark, dead letter or count, and the reliable list's
 * processing list untouched), and the same batch applies in full once the key is sound.
 */
import assert from "node:assert/strict";
import {
  applyListBatch,
  buildListBatch,
  type ListBatch,
  type ListBatchContext,
  toListPayload,
} from "@fastpix/fifo_list_demo";
import { DEFAULT_LIMITS, listProcessingKey } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import { client, INTEGRATION, startRedis, sumAmounts } from "./_helpers.ts";

const SOURCE = "source_list_0";
const CONSUMER = "c1";
const CTX: Omit<ListBatchContext, "mode"> = {
  source: SOURCE,
  processingKey: listProcessingKey(CONSUMER),
  consumerName: CONSUMER,
  responsePrefix: "backend_bacen_response_",
  responseMaxlen: 1000,
  markTtlSeconds: 60,
  limits: DEFAULT_LIMITS,
};

/** Every key the batch could write, with its type and content. */
async function everything(redis: Redis): Promise<Record<string, unknown>> {
  const keys = (await redis.keys("*")).sort();
  const dump: Record<string, unknown> = {};
  for (const key of keys) {
    const type = await redis.type(key);
    dump[key] = type === "string"
      ? await redis.get(key)
      : type === "hash"
      ? await redis.hgetall(key)
      : type === "list"
      ? await redis.lrange(key, 0, -1)
      : type === "stream"
      ? await redis.xrange(key, "-", "+")
      : type;
  }
  return dump;
}

/** Applies `batch`, expects the refusal `error`, and that nothing at all was written. */
async function assertRefused(redis: Redis, batch: ListBatch, error: RegExp): Promise<void> {
  const before = await everything(redis);
  await assert.rejects(applyListBatch(redis, batch), error);
  assert.deepEqual(await everything(redis), before);
}

for (const mode of ["plain", "reliable"] as const) {
  for (const counter of ["processed_count", "total_amount_cents"]) {
    Deno.test(
      `apply_list_batch (${mode}): ${counter} of the wrong type refuses the whole batch`,
      INTEGRATION,
      async () => {
        await using server = await startRedis();
        const redis = client(server.url);
        const payments = Array.from(
          { length: 20 },
          (_, i) => makePayment({ backendId: String(1 + (i % 2)) }),
        );
        const payloads = [...payments.map(toListPayload), "{not json"];
        if (mode === "reliable") {
          // As take_batch leaves them: the newest at the head of the processing list.
          await redis.lpush(listProcessingKey(CONSUMER), ...payloads);
        }
        const batch = buildListBatch(payloads, { ...CTX, mode });
        await redis.hset(counter, "oops", "1");
        await assertRefused(
          redis,
          batch,
          new RegExp(`WRONGTYPE ${counter} must be a string; nothing was applied`),
        );
        assert.equal((await redis.keys("pix:done:*")).length, 0);
        assert.equal(await redis.exists(`${SOURCE}:dlq`), 0);

        // Once the key is sound, the same batch applies in full.
        await redis.del(counter);
        const result = await applyListBatch(redis, batch);
        assert.deepEqual(
          [result.confirmed, result.duplicates, result.rejected, result.skipped],
          [20, 0, 1, 0],
        );
        assert.equal(await redis.get("processed_count"), "20");
        assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
        assert.equal(await redis.xlen(`${SOURCE}:dlq`), 1);
        assert.equal(await redis.exists(listProcessingKey(CONSUMER)), 0);
        redis.disconnect();
      },
    );
  }
}

Deno.test(
  "apply_list_batch: a dead-letter stream or processing list of the wrong type is refused too",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = [makePayment({ backendId: "1" }), makePayment({ backendId: "2" })];
    const payloads = payments.map(toListPayload);
    // The dead-letter stream is a string: any payload may need it, so nothing is applied.
    // (A confirmation stream of the wrong type fails its own payloads only: batch_isolation_test.)
    await redis.set(`${SOURCE}:dlq`, "oops");
    await assertRefused(
      redis,
      buildListBatch(payloads, { ...CTX, mode: "plain" }),
      new RegExp(`WRONGTYPE ${SOURCE}:dlq must be a stream`),
    );
    await redis.del(`${SOURCE}:dlq`);
    // The reliable list's processing list is a hash: nothing is applied.
    await redis.hset(listProcessingKey(CONSUMER), "oops", "1");
    await assertRefused(
      redis,
      buildListBatch(payloads, { ...CTX, mode: "reliable" }),
      new RegExp(`WRONGTYPE ${listProcessingKey(CONSUMER)} must be a list`),
    );
    redis.disconnect();
  },
);
