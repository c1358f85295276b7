/**
 * The stream consumer against real redis-server processes: counts and exact totals, dead letters,
 * redeliveries, reclaim of a dead consumer's entries, trimming.
 */
import assert from "node:assert/strict";
import { applyBatch, buildBatch, type RawEntry, StreamConsumer } from "@fastpix/consumer";
import { dlqKey, ErrorCode, fieldsToRecord } from "@fastpix/pix";
import { type Redis, sleep } from "@fastpix/infra";
import {
  client,
  confirmationsOf,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  pendingCount,
  sendPayments,
  SilentableProxy,
  startRedis,
  sumAmounts,
  waitFor,
} from "./_helpers.ts";

/** Sends `count` payments (backends 1 and 2), reads them as consumer c1 and lays out their batch. */
async function pendingBatch(redis: Redis, url: string, count: number) {
  await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "0", "MKSTREAM");
  const payments = await sendPayments(redis, count, { backendIds: ["1", "2"] });
  const reply = await redis.xreadgroup(
    "GROUP",
    "pix_consumers",
    "c1",
    "STREAMS",
    "pix_payments",
    ">",
  ) as [string, RawEntry[]][];
  return { payments, batch: buildBatch(reply[0][1], consumerOptions(url)) };
}

Deno.test(
  "happy path: every payment confirmed once to its backend, totals exact",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 5000);
    const consumer = new StreamConsumer(consumerOptions(server.url));
    const stats = await consumeUntil(
      consumer,
      async () => Number(await redis.get("processed_count")) >= 5000,
    );

    assert.equal(stats.confirmed, 5000);
    assert.equal(await redis.get("processed_count"), "5000");
    const { cents, text } = sumAmounts(payments);
    assert.equal(await redis.get("total_amount"), text);
    assert.equal(await redis.get("total_amount_cents"), cents.toString());
    for (const backend of ["1", "2", "3", "4"]) {
      const confirmations = await confirmationsOf(redis, `backend_bacen_response_${backend}`);
      const mine = payments.filter((p) => p.backend_id === backend);
      assert.equal(confirmations.length, mine.length);
      assert.deepEqual(
        new Set(confirmations.map((c) => c.transaction_id)),
        new Set(mine.map((p) => p.transaction_id)),
      );
      assert.ok(confirmations.every((c) => c.status === "confirmed" && c.backend_id === backend));
    }
    assert.equal(await pendingCount(redis, "pix_payments"), 0);
    redis.disconnect();
  },
);

Deno.test(
  "bad input: rejected with a code, dead-lettered, nothing counted, consumer keeps going",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const ts = new Date().toISOString();
    const bad: Array<[string[], number]> = [
      [["backend_id", "1", "amount", "10.00", "timestamp", ts], ErrorCode.TRANSACTION_ID_MISSING],
      [
        ["transaction_id", "t-amount", "backend_id", "1", "amount", "abc", "timestamp", ts],
        ErrorCode.AMOUNT_FORMAT,
      ],
      [
        ["transaction_id", "t-neg", "backend_id", "2", "amount", "-5.00", "timestamp", ts],
        ErrorCode.AMOUNT_NOT_POSITIVE,
      ],
      [
        [
          "transaction_id",
          "t-huge",
          "backend_id",
          "2",
          "amount",
          "9".repeat(5000),
          "timestamp",
          ts,
        ],
        ErrorCode.FIELD_TOO_LARGE,
      ],
      [
        ["transaction_id", "t-key", "backend_id", "x}{*", "amount", "1.00", "timestamp", ts],
        ErrorCode.BACKEND_ID_INVALID,
      ],
      [
        ["transaction_id", "t-ts", "backend_id", "1", "amount", "1.00", "timestamp", "soon"],
        ErrorCode.TIMESTAMP_INVALID,
      ],
      [[
        "__proto__",
        "x",
        "transaction_id",
        "t-proto",
        "backend_id",
        "1",
        "amount",
        "1.001",
        "timestamp",
        ts,
      ], ErrorCode.AMOUNT_FORMAT],
    ];
    for (const [fields] of bad) await redis.xadd("pix_payments", "*", ...fields);
    const [good] = await sendPayments(redis, 1, { backendIds: ["1"] });

    const consumer = new StreamConsumer(consumerOptions(server.url));
    const stats = await consumeUntil(
      consumer,
      async () => Number(await redis.get("processed_count")) >= 1,
    );
    assert.equal(stats.rejected, bad.length);
    assert.equal(await redis.get("processed_count"), "1");
    assert.equal(await redis.get("total_amount"), good.amount);

    const dlq = (await redis.xrange(dlqKey("pix_payments"), "-", "+")).map(([, f]) =>
      fieldsToRecord(f)
    );
    assert.deepEqual(dlq.map((d) => Number(d.error_code)), bad.map(([, code]) => code));
    assert.ok(
      dlq.every((d) =>
        d.reason.length > 0 && d.consumer === "test_consumer" && d.deliveries === "1"
      ),
    );
    assert.equal(JSON.parse(dlq[1].fields).amount, "abc");
    // Rejections go back to the backend when its id is usable as a key; never to a bad key.
    const rejected1 = (await confirmationsOf(redis, "backend_bacen_response_1")).filter((c) =>
      c.status === "rejected"
    );
    const rejected2 = (await confirmationsOf(redis, "backend_bacen_response_2")).filter((c) =>
      c.status === "rejected"
    );
    assert.deepEqual(rejected1.map((c) => c.transaction_id).sort(), [
      "",
      "t-amount",
      "t-proto",
      "t-ts",
    ]);
    assert.deepEqual(rejected2.map((c) => [c.transaction_id, c.error_code]), [["t-neg", "1203"], [
      "t-huge",
      "1401",
    ]]);
    assert.equal((await redis.keys("*x}{*")).length, 0);
    assert.equal(await pendingCount(redis, "pix_payments"), 0);
    redis.disconnect();
  },
);

Deno.test(
  "duplicate transaction ids are confirmed as duplicate and counted once",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const [p] = await sendPayments(redis, 1, { backendIds: ["7"] });
    await redis.xadd(
      "pix_payments",
      "*",
      "transaction_id",
      p.transaction_id,
      "backend_id",
      "7",
      "amount",
      p.amount,
      "timestamp",
      p.timestamp,
    );
    const consumer = new StreamConsumer(consumerOptions(server.url));
    const stats = await consumeUntil(
      consumer,
      async () => (await redis.xlen("backend_bacen_response_7")) >= 2,
    );
    assert.equal(stats.duplicates, 1);
    assert.equal(await redis.get("processed_count"), "1");
    assert.equal(await redis.get("total_amount"), p.amount);
    const statuses = (await confirmationsOf(redis, "backend_bacen_response_7")).map((c) =>
      c.status
    );
    assert.deepEqual(statuses, ["confirmed", "duplicate"]);
    redis.disconnect();
  },
);

Deno.test(
  "a dead consumer's entries are reclaimed; past MAX_DELIVERIES they are dead-lettered",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "0", "MKSTREAM");
    const payments = await sendPayments(redis, 300, { backendIds: ["1"] });
    // A consumer that read 300 entries and died: they sit in its PEL.
    await redis.xreadgroup(
      "GROUP",
      "pix_consumers",
      "ghost",
      "COUNT",
      300,
      "STREAMS",
      "pix_payments",
      ">",
    );
    // 20 of them have already been delivered 5 times (the limit): the next delivery is one too many.
    const ids = (await redis.xrange("pix_payments", "-", "+")).map(([id]) => id);
    await redis.xclaim(
      "pix_payments",
      "pix_consumers",
      "ghost",
      0,
      ...ids.slice(0, 20),
      "RETRYCOUNT",
      5,
    );
    // One entry was deleted from the stream while pending (Redis 7 reports it in XAUTOCLAIM).
    await redis.xdel("pix_payments", ids[299]);
    await sleep(150);

    const consumer = new StreamConsumer(
      consumerOptions(server.url, { idleThresholdMs: 100, maxDeliveries: 5, batchSize: 64 }),
    );
    const stats = await consumeUntil(
      consumer,
      async () => (await pendingCount(redis, "pix_payments")) === 0,
    );
    assert.equal(stats.reclaimed, 299);
    assert.equal(stats.deleted, 1);
    assert.equal(stats.rejected, 20);
    assert.equal(stats.confirmed, 279);
    assert.equal(await redis.get("processed_count"), "279");
    assert.equal(await redis.get("total_amount"), sumAmounts(payments.slice(20, 299)).text);
    const dlq = (await redis.xrange(dlqKey("pix_payments"), "-", "+")).map(([, f]) =>
      fieldsToRecord(f)
    );
    assert.equal(dlq.length, 20);
    assert.ok(
      dlq.every((d) =>
        d.error_code === String(ErrorCode.MAX_DELIVERIES_EXCEEDED) && d.deliveries === "6"
      ),
    );
    redis.disconnect();
  },
);

Deno.test(
  "re-applying an applied batch changes nothing (a lost reply and a retried script)",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const { payments, batch } = await pendingBatch(redis, server.url, 50);
    assert.deepEqual((await applyBatch(redis, batch)).slice(0, 4), [50, 0, 0, 0]);
    const state = async () => [
      await redis.get("processed_count"),
      await redis.get("total_amount"),
      await redis.xlen("backend_bacen_response_1"),
    ];
    const after = await state();
    // The same call again, as ioredis resends it after a reconnect: every entry is skipped.
    assert.deepEqual((await applyBatch(redis, batch)).slice(0, 4), [0, 0, 0, 50]);
    assert.deepEqual(await state(), after);
    assert.equal(after[1], sumAmounts(payments).text);
    redis.disconnect();
  },
);

Deno.test("trimming keeps every entry some group still needs", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "0", "MKSTREAM");
  await redis.xgroup("CREATE", "pix_payments", "audit", "0");
  await sendPayments(redis, 3000, { backendIds: ["1"] });
  // The audit group has read 1000 entries and acknowledged none of them.
  await redis.xreadgroup(
    "GROUP",
    "audit",
    "auditor",
    "COUNT",
    1000,
    "STREAMS",
    "pix_payments",
    ">",
  );
  const consumer = new StreamConsumer(consumerOptions(server.url, { streamMaxlen: 100 }));
  await consumeUntil(consumer, async () => Number(await redis.get("processed_count")) >= 3000);
  const trimmer = new StreamConsumer(
    consumerOptions(server.url, { streamMaxlen: 100, consumerName: "trimmer" }),
  );
  await consumeUntil(trimmer, () => Promise.resolve(true));
  // Nothing the audit group holds (or has not read) is gone.
  assert.equal(await redis.xlen("pix_payments"), 3000);
  const auditPending = await redis.xpending("pix_payments", "audit", "-", "+", 2000) as unknown[];
  assert.equal(auditPending.length, 1000);
  // Once the audit group acknowledges, the consumer trims down.
  const ids = (await redis.xrange("pix_payments", "-", "+", "COUNT", 1000)).map(([id]) => id);
  await redis.xack("pix_payments", "audit", ...ids);
  await redis.xreadgroup(
    "GROUP",
    "audit",
    "auditor",
    "COUNT",
    5000,
    "STREAMS",
    "pix_payments",
    ">",
  );
  const rest = (await redis.xrange("pix_payments", ids[999], "+")).map(([id]) => id);
  await redis.xack("pix_payments", "audit", ...rest);
  const again = new StreamConsumer(
    consumerOptions(server.url, { streamMaxlen: 100, consumerName: "trimmer2" }),
  );
  await consumeUntil(again, () => Promise.resolve(true));
  assert.ok(await redis.xlen("pix_payments") < 3000);
  redis.disconnect();
});

Deno.test(
  "a connection that goes silent is noticed by the watchdog and replaced",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const proxy = new SilentableProxy(server.port);
    const redis = client(server.url);
    const first = await sendPayments(redis, 200, { backendIds: ["1"] });
    const consumer = new StreamConsumer(consumerOptions(proxy.url, { commandTimeoutMs: 800 }));
    const running = consumer.run();
    try {
      await waitFor(
        "the first payments",
        async () => Number(await redis.get("processed_count")) === 200,
      );
      proxy.blackhole(); // the consumer's socket stays open but nothing comes back any more
      const more = await sendPayments(redis, 300, { backendIds: ["1"] });
      await waitFor(
        "payments sent after the socket went silent",
        async () => Number(await redis.get("processed_count")) === 500,
        15_000,
      );
      assert.equal(await redis.get("total_amount"), sumAmounts([...first, ...more]).text);
      assert.equal(await pendingCount(redis, "pix_payments"), 0);
    } finally {
      consumer.stop();
      // Without the watchdog the consumer never leaves the silent socket: don't hang the suite.
      await Promise.race([running, new Promise((r) => setTimeout(r, 5000))]);
      proxy.close();
      consumer.redis.disconnect();
    }
    redis.disconnect();
  },
);

Deno.test(
  "a batch whose keys hold the wrong type is refused whole: nothing acknowledged, marked or counted",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const { payments, batch } = await pendingBatch(redis, server.url, 40);
    // Someone wrote a plain string where the dead-letter stream should be: every entry may need it.
    // (A confirmation stream of the wrong type fails its own entries only: batch_isolation_test.)
    await redis.set("pix_payments:dlq", "oops");
    await assert.rejects(
      applyBatch(redis, batch),
      /WRONGTYPE pix_payments:dlq must be a stream/,
    );
    assert.equal(await pendingCount(redis, "pix_payments"), 40);
    assert.equal(await redis.get("processed_count"), null);
    assert.equal(await redis.exists("backend_bacen_response_1"), 0);
    assert.equal((await redis.keys("pix:done:*")).length, 0);
    // A counter that is not an integer is refused the same way.
    await redis.del("pix_payments:dlq");
    await redis.set("total_amount_cents", "12.5");
    await assert.rejects(
      applyBatch(redis, batch),
      /WRONGTYPE total_amount_cents must be an integer/,
    );
    assert.equal(await pendingCount(redis, "pix_payments"), 40);
    // Once the keys are sound the same batch applies in full, exactly once.
    await redis.del("total_amount_cents");
    assert.deepEqual((await applyBatch(redis, batch)).slice(0, 4), [40, 0, 0, 0]);
    assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
    redis.disconnect();
  },
);
