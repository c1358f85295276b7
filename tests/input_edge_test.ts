/**
 * Input edge cases against real redis-server processes: a field repeated in one stream entry,
 * amounts with leading zeros, timestamps before the window and zone offsets beyond ±14:00 are
 * dead-lettered with their codes while valid entries of the same batch are confirmed and counted
 * exactly.
 */
import assert from "node:assert/strict";
import {
  BasicStreamConsumer,
  retryHooks,
  type StepPayment,
  StreamConsumer,
} from "@fastpix/consumer";
import { dlqKey, ErrorCode, fieldsToRecord } from "@fastpix/pix";
import { type Redis } from "@fastpix/infra";
import {
  client,
  confirmationsOf,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  pendingCount,
  startRedis,
} from "./_helpers.ts";

/** A payment entry's flat fields, `extra` appended as is (it may repeat a name). */
function entry(tx: string, backend: string, amount: string, timestamp: string, ...extra: string[]) {
  return [
    "transaction_id",
    tx,
    "backend_id",
    backend,
    "amount",
    amount,
    "timestamp",
    timestamp,
    ...extra,
  ];
}

/** An instant written in zone `+14:00` (local time 14 hours ahead of UTC). */
function atPlus14(ms: number): string {
  return new Date(ms + 14 * 3600 * 1000).toISOString().slice(0, 19) + "+14:00";
}

/** Four bad entries (with their codes and reasons) between five valid edge-case ones. */
function mixedBatch() {
  const now = Date.now();
  const iso = new Date(now).toISOString();
  const bad: Array<
    { tx: string; backend: string; fields: string[]; code: number; reason: RegExp }
  > = [
    {
      tx: "t-repeat",
      backend: "1",
      fields: entry("t-repeat", "1", "1.00", iso, "amount", "999999.00"),
      code: ErrorCode.FIELD_REPEATED,
      reason: /^Field "amount" appears 2 times \("1.00", "999999.00"\)/,
    },
    {
      tx: "t-zeros",
      backend: "2",
      fields: entry("t-zeros", "2", "00.01", iso),
      code: ErrorCode.AMOUNT_LEADING_ZEROS,
      reason: /^Amount "00.01" has leading zeros/,
    },
    {
      tx: "t-1970",
      backend: "1",
      fields: entry("t-1970", "1", "5.00", "1970-01-01T00:00:00Z"),
      code: ErrorCode.TIMESTAMP_TOO_OLD,
      reason: /is before 2000-01-01T00:00:00.000Z/,
    },
    {
      tx: "t-offset",
      backend: "2",
      fields: entry("t-offset", "2", "7.50", iso.slice(0, 19) + "+99:99"),
      code: ErrorCode.TIMESTAMP_OFFSET_INVALID,
      reason: /zone offset must be from -14:00 to \+14:00/,
    },
  ];
  const good: Array<{ tx: string; backend: string; fields: string[]; processed: string }> = [
    { tx: "ok-cent", backend: "1", fields: entry("ok-cent", "1", "0.01", iso), processed: "0.01" },
    { tx: "ok-int", backend: "2", fields: entry("ok-int", "2", "12", iso), processed: "12.00" },
    {
      tx: "ok-python",
      backend: "1",
      // datetime.now().isoformat(): microseconds, no zone.
      fields: entry("ok-python", "1", "5.0", iso.replace("Z", "456")),
      processed: "5.00",
    },
    {
      tx: "ok-2000",
      backend: "2",
      fields: entry("ok-2000", "2", "19.90", "2000-01-01T00:00:00Z"),
      processed: "19.90",
    },
    {
      tx: "ok-plus14",
      backend: "1",
      fields: entry("ok-plus14", "1", "12.3", atPlus14(now)),
      processed: "12.30",
    },
  ];
  // Interleaved: good, bad, good, bad, ... good.
  const order = good.flatMap((g, i) => (bad[i] ? [g.fields, bad[i].fields] : [g.fields]));
  return { bad, good, order, totalCents: 1 + 1200 + 500 + 1990 + 1230 };
}

async function addAll(redis: Redis, entries: string[][], stream = "pix_payments") {
  for (const fields of entries) await redis.xadd(stream, "*", ...fields);
}

async function deadLetters(redis: Redis, stream = "pix_payments") {
  return (await redis.xrange(dlqKey(stream), "-", "+")).map(([, f]) => fieldsToRecord(f));
}

/** A private Redis whose stream holds the entries of {@link mixedBatch}; disposed after the test. */
async function redisWithMixedBatch() {
  const server = await startRedis();
  const redis = client(server.url);
  const batch = mixedBatch();
  await addAll(redis, batch.order);
  return {
    ...batch,
    url: server.url,
    redis,
    async [Symbol.asyncDispose]() {
      redis.disconnect();
      await server.stop();
    },
  };
}

Deno.test(
  "stream consumer: repeated field, 00.01, a 1970 timestamp and +99:99 dead-lettered with their codes; the valid rest of the batch confirmed and counted exactly",
  INTEGRATION,
  async () => {
    await using s = await redisWithMixedBatch();
    const { bad, good, totalCents, redis } = s;
    // The consume command's path: retry hooks around every batch, here with a processing step.
    const stepSaw: string[] = [];
    const step = (payments: readonly StepPayment[]) => {
      stepSaw.push(...payments.map((p) => p.payment.transactionId));
      return Promise.resolve(new Map<string, string>());
    };
    const consumer = new StreamConsumer(
      consumerOptions(s.url, { hooks: retryHooks({ steps: [step] }) }),
    );
    const stats = await consumeUntil(
      consumer,
      async () => stepSaw.length > 0 && (await pendingCount(redis, "pix_payments")) === 0,
    );

    assert.equal(stats.batches, 1, "all nine entries were one batch");
    assert.equal(stats.read, 9);
    assert.equal(stats.confirmed, good.length);
    assert.equal(stats.rejected, bad.length);
    assert.deepEqual(stepSaw.sort(), good.map((g) => g.tx).sort(), "steps see valid payments only");
    assert.equal(await redis.get("processed_count"), String(good.length));
    assert.equal(await redis.get("total_amount_cents"), String(totalCents));
    assert.equal(await redis.get("total_amount"), "49.21");

    const dlq = await deadLetters(redis);
    assert.deepEqual(dlq.map((d) => Number(d.error_code)), bad.map((b) => b.code));
    bad.forEach((b, i) => {
      assert.match(dlq[i].reason, b.reason, b.tx);
      assert.equal(JSON.parse(dlq[i].fields).transaction_id, b.tx);
    });
    for (const backend of ["1", "2"]) {
      const confirmations = await confirmationsOf(redis, `backend_bacen_response_${backend}`);
      const rejected = confirmations.filter((c) => c.status === "rejected");
      assert.deepEqual(
        rejected.map((c) => [c.transaction_id, c.error_code]),
        bad.filter((b) => b.backend === backend).map((b) => [b.tx, String(b.code)]),
      );
      const confirmed = confirmations.filter((c) => c.status === "confirmed");
      assert.deepEqual(
        confirmed.map((c) => [c.transaction_id, c.processed_amount]).sort(),
        good.filter((g) => g.backend === backend).map((g) => [g.tx, g.processed]).sort(),
      );
      assert.equal(confirmations.length, rejected.length + confirmed.length);
    }
  },
);

Deno.test(
  "basic consumer: the same edge cases dead-lettered with their codes, the valid ones counted exactly",
  INTEGRATION,
  async () => {
    await using s = await redisWithMixedBatch();
    const { bad, good, totalCents, redis } = s;
    const consumer = new BasicStreamConsumer({
      redisUrl: s.url,
      stream: "pix_payments",
      group: "pix_consumers",
      consumerName: "basic",
      idleThresholdMs: 5000,
      blockMs: 50,
    });
    const stats = await consumeUntil(
      consumer,
      async () =>
        (await redis.xlen(dlqKey("pix_payments"))) + Number(await redis.get("processed_count")) ===
          9,
    );
    assert.deepEqual(stats, { read: 9, counted: good.length, rejected: bad.length, claimed: 0 });
    assert.equal(await redis.get("total_amount_cents"), String(totalCents));
    assert.equal(await redis.get("total_amount"), "49.21");
    const dlq = await deadLetters(redis);
    assert.deepEqual(dlq.map((d) => Number(d.error_code)), bad.map((b) => b.code));
    bad.forEach((b, i) => assert.match(dlq[i].reason, b.reason, b.tx));
    assert.equal(await pendingCount(redis, "pix_payments"), 0);
  },
);
