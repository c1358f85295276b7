/**
 * Same transaction id, different payment: against real redis-server processes, for the stream
 * consumer, the list designs and the basic consumer. A repeat with the same amount, backend and
 * PIX keys is an honest retry (`duplicate`, counted once); a repeat that differs is a conflict
 * (1701): dead-lettered with its own fields and the id of the entry that was counted, `rejected`
 * to its backend (the basic design sends no confirmations), and nothing counted. A mark written
 * before fingerprints (the stream id, or the source list, alone) still makes a repeat a duplicate.
 */
import assert from "node:assert/strict";
import { applyListBatch, buildListBatch, toListPayload } from "@fastpix/fifo_list_demo";
import { BasicStreamConsumer, StreamConsumer } from "@fastpix/consumer";
import { dlqKey, ErrorCode, listProcessingKey, type PaymentMessage } from "@fastpix/pix";
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
  startRedis,
  sumAmounts,
} from "./_helpers.ts";

const CONFLICT = String(ErrorCode.TRANSACTION_CONFLICT);

/** `p`, and three others under its transaction id: another amount, backend, payee key. */
function variants(p: PaymentMessage): PaymentMessage[] {
  return [
    { ...p, amount: p.amount === "10.00" ? "10.01" : "10.00" },
    { ...p, backend_id: p.backend_id === "1" ? "2" : "1" },
    { ...p, payee_key: "52998224725" },
  ];
}

/** A payment `p`, its conflicting variants, an honest retry of p (new timestamp), and `q`. */
function scenario() {
  const p = makePayment({ backendId: "1", amountCents: 1234 });
  const conflicts = variants(p);
  const retry = { ...p, timestamp: new Date(Date.now() + 1000).toISOString() };
  // q's transaction id carries a mark written before fingerprints.
  const q = makePayment({ backendId: "2", amountCents: 500 });
  return { p, conflicts, retry, q };
}

/** Enqueues {@link scenario} on the payment stream (q's old mark first); resolves to the ids. */
async function enqueueScenario(redis: Redis) {
  const s = scenario();
  await redis.set(`pix:done:${s.q.transaction_id}`, "1700000000000-0", "EX", 600);
  const pId = await addRaw(redis, { ...s.p });
  const conflictIds = [];
  for (const c of s.conflicts) conflictIds.push(await addRaw(redis, { ...c }));
  await addRaw(redis, { ...s.retry });
  await addRaw(redis, { ...s.q });
  return { ...s, pId, conflictIds };
}

Deno.test(
  "stream: a different payment under a counted transaction id is a conflict (1701); an honest retry and an old mark stay duplicates",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const { p, conflicts, q, pId, conflictIds } = await enqueueScenario(redis);
    const stats = await consumeUntil(
      new StreamConsumer(consumerOptions(server.url)),
      async () =>
        await redis.xlen(dlqKey("pix_payments")) === 3 &&
        await pendingCount(redis, "pix_payments") === 0,
    );
    assert.deepEqual([stats.confirmed, stats.duplicates, stats.rejected], [1, 2, 3]);
    assert.equal(await redis.get("processed_count"), "1");
    assert.equal(await redis.get("total_amount"), sumAmounts([p]).text);
    const letters = await deadLetters(redis);
    assert.deepEqual(letters.map((l) => Number(l.error_code)), [
      ErrorCode.TRANSACTION_CONFLICT,
      ErrorCode.TRANSACTION_CONFLICT,
      ErrorCode.TRANSACTION_CONFLICT,
    ]);
    assert.deepEqual(letters.map((l) => l.counted_id), [pId, pId, pId]);
    assert.deepEqual(letters.map((l) => l.original_id), conflictIds);
    assert.deepEqual(letters.map((l) => JSON.parse(l.fields)), conflicts.map((c) => ({ ...c })));
    for (const l of letters) {
      assert.match(l.reason, new RegExp(`^transaction_id ${p.transaction_id} was already counted`));
    }
    // Backend 1 hears of p (confirmed), two conflicts (rejected) and the retry (duplicate);
    // backend 2 of the conflict sent to it, and of q (duplicate: its old mark).
    const ones = await confirmationsOf(redis, "backend_bacen_response_1");
    assert.deepEqual(ones.map((c) => [c.status, c.error_code ?? ""]), [
      ["confirmed", ""],
      ["rejected", CONFLICT],
      ["rejected", CONFLICT],
      ["duplicate", ""],
    ]);
    const twos = await confirmationsOf(redis, "backend_bacen_response_2");
    assert.deepEqual(twos.map((c) => [c.transaction_id, c.status]), [
      [p.transaction_id, "rejected"],
      [q.transaction_id, "duplicate"],
    ]);
    // The mark still says p counted it, and an old mark stays as it was.
    assert.match((await redis.get(`pix:done:${p.transaction_id}`))!, new RegExp(`^.{8}:${pId}$`));
    assert.equal(await redis.get(`pix:done:${q.transaction_id}`), "1700000000000-0");
    redis.disconnect();
  },
);

for (const mode of ["plain", "reliable"] as const) {
  Deno.test(
    `list (${mode}): a conflicting payload is dead-lettered (1701) with the list that counted it; an honest retry and an old mark stay duplicates`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const { p, conflicts, retry, q } = scenario();
      await redis.set(`pix:done:${q.transaction_id}`, "source_list_3", "EX", 600);
      const apply = async (payloads: string[]) => {
        if (mode === "reliable") await redis.lpush(listProcessingKey("c1"), ...payloads);
        return await applyListBatch(redis, buildListBatch(payloads, listBatchContext(mode)));
      };
      const first = await apply([toListPayload(p)]);
      assert.equal(first.confirmed, 1);
      const payloads = [...conflicts, retry, q].map(toListPayload);
      const r = await apply(payloads);
      assert.deepEqual([r.confirmed, r.duplicates, r.rejected, r.skipped], [0, 2, 3, 0]);
      assert.equal(await redis.get("processed_count"), "1");
      assert.equal(await redis.get("total_amount"), "12.34");
      const letters = await deadLetters(redis, "source_list_0");
      assert.deepEqual(letters.map((l) => [l.error_code, l.counted_id, l.payload]), [
        [CONFLICT, "source_list_0", payloads[0]],
        [CONFLICT, "source_list_0", payloads[1]],
        [CONFLICT, "source_list_0", payloads[2]],
      ]);
      const ones = await confirmationsOf(redis, "backend_bacen_response_1");
      assert.deepEqual(ones.map((c) => c.status), [
        "confirmed",
        "rejected",
        "rejected",
        "duplicate",
      ]);
      const twos = await confirmationsOf(redis, "backend_bacen_response_2");
      assert.deepEqual(twos.map((c) => [c.transaction_id, c.status, c.error_code ?? ""]), [
        [p.transaction_id, "rejected", CONFLICT],
        [q.transaction_id, "duplicate", ""],
      ]);
      redis.disconnect();
    },
  );
}

Deno.test(
  "basic: a conflict is dead-lettered (1701) with the counted id, an honest retry and an old mark are duplicates, nothing counted twice",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const { conflicts, pId } = await enqueueScenario(redis);
    const stats = await consumeUntil(
      new BasicStreamConsumer(basicOptions(server.url)),
      async () =>
        await redis.xlen(dlqKey("pix_payments")) === 3 &&
        await pendingCount(redis, "pix_payments") === 0,
    );
    assert.deepEqual(stats, { read: 6, counted: 1, duplicates: 2, rejected: 3, claimed: 0 });
    assert.equal(await redis.get("processed_count"), "1");
    assert.equal(await redis.get("total_amount"), "12.34");
    const letters = await deadLetters(redis);
    assert.deepEqual(letters.map((l) => [l.error_code, l.counted_id]), [
      [CONFLICT, pId],
      [CONFLICT, pId],
      [CONFLICT, pId],
    ]);
    assert.deepEqual(letters.map((l) => JSON.parse(l.fields)), conflicts.map((c) => ({ ...c })));
    // No confirmations in the basic design.
    assert.deepEqual(await redis.keys("backend_bacen_response_*"), []);
    redis.disconnect();
  },
);
