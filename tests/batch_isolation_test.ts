/**
 * One bad key fails one entry, not its batch; a bad key every entry needs fails the batch without
 * failing its entries. Against real redis-server processes, for the stream consumer, the list
 * designs and the basic consumer:
 * - a backend's confirmation stream of the wrong type: that backend's payments alone are
 *   dead-lettered (2101, no confirmation), the rest of each batch is confirmed and counted, and
 *   nothing ends at 2001, before or after the key is fixed (the dead letters replay fine);
 * - an idempotency mark of the wrong type: that payment alone is dead-lettered (2102);
 * - a counter of the wrong kind refuses whole batches again and again: logged once, and no
 *   entry reaches MAX_DELIVERIES for it; once fixed, every payment is counted once.
 */
import assert from "node:assert/strict";
import { applyListBatch, buildListBatch, toListPayload } from "@fastpix/fifo_list_demo";
import {
  applyBatch,
  BasicStreamConsumer,
  combineHooks,
  replayDeadLetters,
  retryHooks,
  StreamConsumer,
} from "@fastpix/consumer";
import { dlqKey, ErrorCode, listProcessingKey } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import {
  addRaw,
  basicOptions,
  client,
  confirmationsOf,
  consumerOptions,
  consumeUntil,
  deadLetters,
  INTEGRATION,
  listBatchContext,
  pendingCount,
  pendingStreamBatch,
  recordingLogger,
  sendPayments,
  startRedis,
  sumAmounts,
} from "./_helpers.ts";

/** 40 payments on backend 1 with 3 on backend 9 among them (entries 5, 20, 35). */
async function mixed(redis: Redis) {
  const payments = [];
  for (let i = 0; i < 40; i++) {
    payments.push(...await sendPayments(redis, 1, { backendIds: ["1"] }));
    if (i % 15 === 5) payments.push(...await sendPayments(redis, 1, { backendIds: ["9"] }));
  }
  return {
    good: payments.filter((p) => p.backend_id === "1"),
    nine: payments.filter((p) => p.backend_id === "9"),
  };
}

Deno.test(
  "stream: a confirmation stream of the wrong type dead-letters its own entries (2101) alone; nothing at 2001, before or after the fix",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.set("backend_bacen_response_9", "oops");
    const first = await mixed(redis);
    const options = consumerOptions(server.url, {
      maxDeliveries: 2,
      idleThresholdMs: 100,
      batchSize: 50,
      hooks: combineHooks(retryHooks()),
      logger: recordingLogger(),
    });
    await consumeUntil(
      new StreamConsumer(options),
      async () =>
        Number(await redis.get("processed_count")) === 40 &&
        await redis.xlen(dlqKey("pix_payments")) === 3 &&
        await pendingCount(redis, "pix_payments") === 0,
    );
    assert.equal(await redis.get("total_amount"), sumAmounts(first.good).text);
    const letters = await deadLetters(redis);
    assert.deepEqual(letters.map((l) => Number(l.error_code)), [
      ErrorCode.CONFIRMATION_STREAM_WRONG_TYPE,
      ErrorCode.CONFIRMATION_STREAM_WRONG_TYPE,
      ErrorCode.CONFIRMATION_STREAM_WRONG_TYPE,
    ]);
    assert.deepEqual(
      letters.map((l) => JSON.parse(l.fields)),
      first.nine.map((p) => ({ ...p })),
    );
    for (const l of letters) {
      assert.match(
        l.reason,
        /^confirmation stream backend_bacen_response_9 is not a stream \(it holds a string\)/,
      );
      assert.equal(l.deliveries, "1");
    }
    // No confirmation went anywhere for them; backend 1 got all of its own.
    assert.equal(await redis.get("backend_bacen_response_9"), "oops");
    const ones = await confirmationsOf(redis, "backend_bacen_response_1");
    assert.deepEqual(ones.map((c) => c.status), first.good.map(() => "confirmed"));
    assert.equal((await redis.keys("pix:done:*")).length, 40);

    // Fixed: new backend 9 payments are confirmed, and the dead letters replay and count once.
    await redis.del("backend_bacen_response_9");
    const second = await mixed(redis);
    const replayed = await replayDeadLetters(redis, "pix_payments", { all: true });
    assert.equal(replayed.replayed.size, 3);
    await consumeUntil(
      new StreamConsumer({ ...options, consumerName: "after_fix" }),
      async () =>
        Number(await redis.get("processed_count")) === 86 &&
        await pendingCount(redis, "pix_payments") === 0,
    );
    const all = [...first.good, ...first.nine, ...second.good, ...second.nine];
    assert.equal(await redis.get("total_amount"), sumAmounts(all).text);
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);
    const nines = await confirmationsOf(redis, "backend_bacen_response_9");
    assert.deepEqual(
      nines.map((c) => c.status),
      [...second.nine, ...first.nine].map(() => "confirmed"),
    );
    assert.ok(
      !(await deadLetters(redis)).some((l) =>
        Number(l.error_code) === ErrorCode.MAX_DELIVERIES_EXCEEDED
      ),
    );
    redis.disconnect();
  },
);

Deno.test(
  "stream: an idempotency mark of the wrong type dead-letters that payment alone (2102), rejected to its backend",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 10, { backendIds: ["1", "2"] });
    const victim = payments[3];
    await redis.hset(`pix:done:${victim.transaction_id}`, "oops", "1");
    await consumeUntil(
      new StreamConsumer(consumerOptions(server.url, { logger: recordingLogger() })),
      async () =>
        Number(await redis.get("processed_count")) === 9 &&
        await pendingCount(redis, "pix_payments") === 0,
    );
    const rest = payments.filter((p) => p !== victim);
    assert.equal(await redis.get("total_amount"), sumAmounts(rest).text);
    const [letter, ...more] = await deadLetters(redis);
    assert.equal(more.length, 0);
    assert.equal(Number(letter.error_code), ErrorCode.MARK_WRONG_TYPE);
    assert.match(
      letter.reason,
      new RegExp(
        `^idempotency mark pix:done:${victim.transaction_id} is not a string \\(it holds a hash\\)`,
      ),
    );
    assert.deepEqual(JSON.parse(letter.fields), { ...victim });
    const answers = await confirmationsOf(redis, `backend_bacen_response_${victim.backend_id}`);
    const mine = answers.filter((c) => c.transaction_id === victim.transaction_id);
    assert.deepEqual(mine.map((c) => [c.status, Number(c.error_code)]), [
      ["rejected", ErrorCode.MARK_WRONG_TYPE],
    ]);
    assert.equal(answers.filter((c) => c.status === "confirmed").length, 4);
    redis.disconnect();
  },
);

Deno.test(
  "stream: a counter of the wrong kind refuses batch after batch, logged once, and sends no innocent entry to 2001",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 30, { backendIds: ["1"] });
    await redis.set("processed_count", "many");
    let attempts = 0;
    const counting = {
      apply: (r: typeof redis, batch: Parameters<typeof applyBatch>[1]) => {
        attempts++;
        return applyBatch(r, batch);
      },
    };
    const log = recordingLogger();
    const consumer = new StreamConsumer(consumerOptions(server.url, {
      maxDeliveries: 2,
      idleThresholdMs: 100,
      hooks: combineHooks(retryHooks(), counting),
      logger: log,
    }));
    const running = consumer.run();
    try {
      // Refused more times than MAX_DELIVERIES allows deliveries.
      const deadline = Date.now() + 30_000;
      while (attempts < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(attempts >= 5, `only ${attempts} attempts`);
      assert.equal(await redis.get("processed_count"), "many");
      assert.equal(await redis.exists(dlqKey("pix_payments")), 0);
      const pending = await redis.xpending("pix_payments", "pix_consumers", "-", "+", 100) as [
        string,
        string,
        number,
        number,
      ][];
      assert.equal(pending.length, 30);
      assert.ok(
        pending.every(([, , , n]) => n <= 1),
        `delivery counts ${pending.map((p) => p[3])}`,
      );
      // Fixed: every payment is counted once, none dead-lettered.
      await redis.del("processed_count");
      const deadline2 = Date.now() + 30_000;
      while (
        Number(await redis.get("processed_count")) < 30 && Date.now() < deadline2
      ) await new Promise((r) => setTimeout(r, 20));
    } finally {
      consumer.stop();
      await running;
    }
    assert.equal(await redis.get("processed_count"), "30");
    assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
    assert.equal(await redis.exists(dlqKey("pix_payments")), 0);
    assert.equal(await pendingCount(redis, "pix_payments"), 0);
    const confirmations = await confirmationsOf(redis, "backend_bacen_response_1");
    assert.deepEqual(confirmations.map((c) => c.status), payments.map(() => "confirmed"));
    const refusals = log.lines.filter((l) => l.includes("batch refused"));
    assert.equal(refusals.length, 1, refusals.join("\n"));
    assert.match(refusals[0], /WRONGTYPE processed_count must be an integer/);
    assert.equal(log.lines.filter((l) => l.includes("batches apply again")).length, 1);
    redis.disconnect();
  },
);

for (const mode of ["plain", "reliable"] as const) {
  Deno.test(
    `list (${mode}): a confirmation stream (2101) or a mark (2102) of the wrong type fails its own payload alone`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const good = Array.from({ length: 6 }, () => makePayment({ backendId: "1" }));
      const nine = makePayment({ backendId: "9" });
      const marked = makePayment({ backendId: "2" });
      await redis.set("backend_bacen_response_9", "oops");
      await redis.lpush(`pix:done:${marked.transaction_id}`, "oops");
      const payloads = [...good.slice(0, 3), nine, marked, ...good.slice(3)].map(toListPayload);
      if (mode === "reliable") await redis.lpush(listProcessingKey("c1"), ...payloads);
      const r = await applyListBatch(redis, buildListBatch(payloads, listBatchContext(mode)));
      assert.deepEqual([r.confirmed, r.duplicates, r.rejected, r.skipped], [6, 0, 2, 0]);
      assert.equal(await redis.get("total_amount"), sumAmounts(good).text);
      const letters = await deadLetters(redis, "source_list_0");
      assert.deepEqual(letters.map((l) => [Number(l.error_code), l.payload]), [
        [ErrorCode.CONFIRMATION_STREAM_WRONG_TYPE, toListPayload(nine)],
        [ErrorCode.MARK_WRONG_TYPE, toListPayload(marked)],
      ]);
      assert.equal(await redis.get("backend_bacen_response_9"), "oops");
      const twos = await confirmationsOf(redis, "backend_bacen_response_2");
      assert.deepEqual(twos.map((c) => [c.status, Number(c.error_code)]), [
        ["rejected", ErrorCode.MARK_WRONG_TYPE],
      ]);
      assert.equal(await redis.exists(listProcessingKey("c1")), 0);
      redis.disconnect();
    },
  );
}

Deno.test(
  "basic: a mark of the wrong type dead-letters that payment (2102); a refused count is logged once and counted once fixed",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 6, { backendIds: ["1"] });
    await redis.sadd(`pix:done:${payments[2].transaction_id}`, "oops");
    await redis.hset("total_amount_cents", "oops", "1");
    const log = recordingLogger();
    const consumer = new BasicStreamConsumer(
      basicOptions(server.url, { idleThresholdMs: 100, logger: log }),
    );
    const running = consumer.run();
    try {
      const deadline = Date.now() + 20_000;
      while (
        log.lines.filter((l) => l.includes("batch refused")).length === 0 && Date.now() < deadline
      ) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await redis.exists("processed_count"), 0);
      await redis.del("total_amount_cents");
      while (
        (await pendingCount(redis, "pix_payments")) > 0 && Date.now() < deadline
      ) await new Promise((r) => setTimeout(r, 20));
    } finally {
      consumer.stop();
      await running;
    }
    const rest = payments.filter((_, i) => i !== 2);
    assert.equal(await redis.get("processed_count"), "5");
    assert.equal(await redis.get("total_amount"), sumAmounts(rest).text);
    const letters = await deadLetters(redis);
    assert.deepEqual(letters.map((l) => Number(l.error_code)), [ErrorCode.MARK_WRONG_TYPE]);
    assert.deepEqual(JSON.parse(letters[0].fields), { ...payments[2] });
    assert.equal(
      log.lines.filter((l) => l.includes("batch refused")).length,
      1,
      log.lines.join("\n"),
    );
    redis.disconnect();
  },
);

Deno.test(
  "stream: a reject entry whose confirmation stream is of the wrong type keeps its own code",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.set("backend_bacen_response_9", "oops");
    await addRaw(redis, {
      transaction_id: "bad-amount",
      backend_id: "9",
      amount: "1,50",
      timestamp: new Date().toISOString(),
    });
    await consumeUntil(
      new StreamConsumer(consumerOptions(server.url, { logger: recordingLogger() })),
      async () => await redis.xlen(dlqKey("pix_payments")) === 1,
    );
    const [letter] = await deadLetters(redis);
    assert.equal(Number(letter.error_code), ErrorCode.AMOUNT_FORMAT);
    assert.match(
      letter.reason,
      /; no rejected confirmation: backend_bacen_response_9 is not a stream/,
    );
    assert.equal(await pendingCount(redis, "pix_payments"), 0);
    redis.disconnect();
  },
);

Deno.test(
  "stream: a user whose Redis ACL lacks XRANGE (dead letters read the entry) is refused whole, not half way",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.call(
      "ACL",
      "SETUSER",
      "no_xrange",
      "reset",
      "on",
      ">pw",
      "~*",
      "+@all",
      "-xrange",
    );
    const payments = Array.from({ length: 5 }, () => makePayment({ backendId: "1" }));
    const batch = await pendingStreamBatch(redis, server.url, payments);
    const limited = client(`redis://no_xrange:pw@127.0.0.1:${server.port}`);
    await assert.rejects(
      applyBatch(limited, batch),
      /NOPERM this user may not XRANGE pix_payments .*; nothing was applied/,
    );
    assert.equal(await pendingCount(redis, "pix_payments"), 5);
    assert.equal(await redis.exists("processed_count", "backend_bacen_response_1"), 0);
    // The same batch applies in full for a user that may.
    assert.deepEqual((await applyBatch(redis, batch)).slice(0, 4), [5, 0, 0, 0]);
    limited.disconnect();
    redis.disconnect();
  },
);
