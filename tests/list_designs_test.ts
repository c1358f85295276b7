/**
 * The alternative designs against real redis-server processes: the plain list, the reliable list
 * (with its reaper) and the basic stream consumer each process a batch with exact counts and
 * totals; bad payloads become dead letters without stopping anything.
 */
import assert from "node:assert/strict";
import { BasicStreamConsumer } from "@fastpix/consumer";
import {
  ListConsumer,
  type ListConsumerBase,
  reapDeadConsumers,
  ReliableListConsumer,
} from "@fastpix/fifo_list_demo";
import {
  ErrorCode,
  fieldsToRecord,
  LIST_CONSUMERS_KEY,
  listHeartbeatKey,
  listProcessingKey,
  type PaymentMessage,
} from "@fastpix/pix";
import { type Redis } from "@fastpix/infra";
import { listEnqueuer } from "@fastpix/queue";
import { makePayment } from "@fastpix/simulators";
import {
  client,
  confirmationsOf,
  consumeUntil,
  INTEGRATION,
  listConsumerOptions,
  pendingCount,
  sendPayments,
  startRedis,
  sumAmounts,
} from "./_helpers.ts";

const SOURCE = "source_list_0";
const BACKENDS = ["1", "2", "3", "4"];

async function pushPayments(redis: Redis, count: number): Promise<PaymentMessage[]> {
  const enqueuer = listEnqueuer([SOURCE]);
  const all: PaymentMessage[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from(
      { length: Math.min(500, count - i) },
      (_, j) => makePayment({ backendId: BACKENDS[(i + j) % BACKENDS.length] }),
    );
    await enqueuer.enqueue(redis, batch);
    all.push(...batch);
  }
  return all;
}

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

/** Every payment confirmed exactly once on its backend's stream, counters exact. */
async function assertConfirmedOnce(redis: Redis, payments: PaymentMessage[], extraCents = 0n) {
  const { cents } = sumAmounts(payments);
  const total = cents + extraCents;
  assert.equal(await redis.get("total_amount_cents"), total.toString());
  assert.equal(
    await redis.get("total_amount"),
    `${total / 100n}.${(total % 100n).toString().padStart(2, "0")}`,
  );
  for (const backend of BACKENDS) {
    const confirmed = (await confirmationsOf(redis, `backend_bacen_response_${backend}`))
      .filter((c) => c.status === "confirmed");
    const mine = payments.filter((p) => p.backend_id === backend).map((p) => p.transaction_id);
    const seen = confirmed.map((c) => c.transaction_id).filter((tx) => mine.includes(tx));
    assert.equal(seen.length, mine.length, `backend ${backend}: each payment confirmed once`);
    assert.deepEqual(new Set(seen), new Set(mine));
  }
}

/** Bad and Python-style payloads, pushed after the good ones. */
async function pushOddPayloads(redis: Redis): Promise<void> {
  const ts = new Date().toISOString();
  await redis.lpush(
    SOURCE,
    "{not json",
    "[1, 2]",
    JSON.stringify({
      transaction_id: "bad-amount",
      backend_id: "2",
      amount: "12,5",
      timestamp: ts,
    }),
    JSON.stringify({
      transaction_id: "bad-backend",
      backend_id: "no spaces",
      amount: "1.00",
      timestamp: ts,
    }),
    // The Python original's list injector sends the amount as a JSON number and no zone.
    JSON.stringify({
      transaction_id: "py-1",
      backend_id: "3",
      amount: 12.3,
      timestamp: "2024-05-01T10:00:00.123456",
    }),
  ); // deno-fmt-ignore
}

async function assertOddPayloadsHandled(redis: Redis): Promise<void> {
  const dlq = (await redis.xrange(`${SOURCE}:dlq`, "-", "+")).map(([, f]) => fieldsToRecord(f));
  assert.deepEqual(
    dlq.map((d) => Number(d.error_code)).sort(),
    [
      ErrorCode.BACKEND_ID_INVALID,
      ErrorCode.AMOUNT_FORMAT,
      ErrorCode.PAYLOAD_MALFORMED,
      ErrorCode.PAYLOAD_MALFORMED,
    ].sort(),
  ); // deno-fmt-ignore
  assert.ok(dlq.some((d) => d.payload === "{not json" && d.source === SOURCE));
  const rejected = (await confirmationsOf(redis, "backend_bacen_response_2"))
    .filter((c) => c.status === "rejected");
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].transaction_id, "bad-amount");
  assert.equal(rejected[0].error_code, String(ErrorCode.AMOUNT_FORMAT));
  const py = (await confirmationsOf(redis, "backend_bacen_response_3"))
    .find((c) => c.transaction_id === "py-1");
  assert.equal(py?.status, "confirmed");
  assert.equal(py?.processed_amount, "12.30");
}

for (const design of ["list", "list-reliable"] as const) {
  Deno.test(
    `${design}: every payment confirmed once, totals exact, bad payloads dead-lettered`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const payments = await pushPayments(redis, 3000);
      await pushOddPayloads(redis);
      const options = listConsumerOptions(server.url, `test_${design}`);
      const consumer: ListConsumerBase = design === "list"
        ? new ListConsumer(options)
        : new ReliableListConsumer({ ...options, heartbeatTtlMs: 2000 });
      const stats = await consumeUntil(
        consumer,
        async () => (await count(redis)) >= 3001 && (await redis.xlen(`${SOURCE}:dlq`)) >= 4,
      );

      assert.equal(await count(redis), 3001);
      assert.equal(stats.confirmed, 3001);
      assert.equal(stats.rejected, 4);
      assert.equal(stats.read, 3005);
      await assertConfirmedOnce(redis, payments, 1230n);
      await assertOddPayloadsHandled(redis);
      assert.equal(await redis.llen(SOURCE), 0);
      if (design === "list-reliable") {
        assert.equal(await redis.llen(listProcessingKey(`test_${design}`)), 0);
        assert.equal(await redis.hexists(LIST_CONSUMERS_KEY, `test_${design}`), 0);
        assert.equal(await redis.exists(listHeartbeatKey(`test_${design}`)), 0);
      }
      redis.disconnect();
    },
  );
}

Deno.test(
  "list-reliable: the reaper returns a dead consumer's payloads once, never a live one's",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const dead = Array.from({ length: 50 }, () => makePayment({ backendId: "1" }));
    const alive = Array.from({ length: 5 }, () => makePayment({ backendId: "1" }));
    // "ghost" took 50 payloads and died (no heartbeat); "busy" holds 5 and is alive.
    await redis.lpush(listProcessingKey("ghost"), ...dead.map((p) => JSON.stringify(p)));
    await redis.lpush(listProcessingKey("busy"), ...alive.map((p) => JSON.stringify(p)));
    await redis.hset(LIST_CONSUMERS_KEY, "ghost", SOURCE, "busy", SOURCE);
    await redis.set(listHeartbeatKey("busy"), "1", "PX", 60_000);

    const consumer = new ReliableListConsumer({
      ...listConsumerOptions(server.url, "rescuer"),
      heartbeatTtlMs: 300,
    });
    const stats = await consumeUntil(consumer, async () => (await count(redis)) >= 50);

    assert.equal(stats.recovered, 50);
    assert.equal(await count(redis), 50);
    await assertConfirmedOnce(redis, dead);
    assert.equal(await redis.exists(listProcessingKey("ghost")), 0);
    assert.equal(await redis.hexists(LIST_CONSUMERS_KEY, "ghost"), 0);
    assert.equal(await redis.llen(listProcessingKey("busy")), 5);
    // Once "busy" stops beating, it is reaped too.
    await redis.del(listHeartbeatKey("busy"));
    assert.deepEqual(await reapDeadConsumers(redis), new Map([["busy", 5]]));
    assert.equal(await redis.llen(SOURCE), 5);
    redis.disconnect();
  },
);

Deno.test(
  "basic: one at a time, counts and totals exact, stalled entries claimed from a dead consumer",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 600);
    await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "0");
    // A consumer that read 20 entries and died without acknowledging them.
    await redis.xreadgroup(
      "GROUP",
      "pix_consumers",
      "ghost",
      "COUNT",
      20,
      "STREAMS",
      "pix_payments",
      ">",
    );
    await redis.xadd(
      "pix_payments",
      "*",
      "transaction_id",
      "bad",
      "backend_id",
      "1",
      "amount",
      "-5",
      "timestamp",
      new Date().toISOString(),
    );
    const consumer = new BasicStreamConsumer({
      redisUrl: server.url,
      stream: "pix_payments",
      group: "pix_consumers",
      consumerName: "basic",
      idleThresholdMs: 200,
      blockMs: 50,
    }); // deno-fmt-ignore
    const stats = await consumeUntil(
      consumer,
      async () => (await count(redis)) >= 600 && (await pendingCount(redis, "pix_payments")) === 0,
    );

    assert.equal(await count(redis), 600);
    assert.deepEqual(stats, { read: 601, counted: 600, duplicates: 0, rejected: 1, claimed: 20 });
    const { cents, text } = sumAmounts(payments);
    assert.equal(await redis.get("total_amount_cents"), cents.toString());
    assert.equal(await redis.get("total_amount"), text);
    const dlq = await redis.xrange("pix_payments:dlq", "-", "+");
    assert.equal(dlq.length, 1);
    assert.equal(fieldsToRecord(dlq[0][1]).error_code, String(ErrorCode.AMOUNT_NOT_POSITIVE));
    // No confirmations: that is the basic design.
    assert.equal(await redis.exists("backend_bacen_response_1"), 0);
    redis.disconnect();
  },
);
