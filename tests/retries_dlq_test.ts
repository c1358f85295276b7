/**
 * Processing errors against real redis-server processes: entries whose processing fails stay
 * pending, are reclaimed and retried with rising delivery counts, and past MAX_DELIVERIES go to the
 * dead-letter stream with their last error and a `rejected` confirmation. Then `deno task dlq`:
 * list, replay (a payment already processed is not re-enqueued) and purge.
 */
import assert from "node:assert/strict";
import {
  combineHooks,
  type ProcessingStep,
  purgeDeadLetters,
  replayDeadLetters,
  retryHooks,
  StreamConsumer,
  type StreamConsumerOptions,
} from "@fastpix/consumer";
import { dlqKey, ErrorCode, fieldsToRecord, lastErrorKey } from "@fastpix/pix";
import {
  addRaw,
  ChildTool,
  client,
  confirmationsOf,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  pendingCount,
  sendPayments,
  startRedis,
  sumAmounts,
} from "./_helpers.ts";
import { sleep } from "@fastpix/infra";

const options = (url: string, overrides: Partial<StreamConsumerOptions> = {}) =>
  consumerOptions(url, { consumerName: "retry_consumer", idleThresholdMs: 150, ...overrides });

/** A settlement step that refuses some transaction ids, and remembers every delivery it saw. */
function refusingStep(refuse: (tx: string, deliveries: number) => boolean) {
  const seen: Array<[string, number]> = [];
  const step: ProcessingStep = (payments) => {
    const failed = new Map<string, string>();
    for (const p of payments) {
      seen.push([p.payment.transactionId, p.deliveries]);
      if (refuse(p.payment.transactionId, p.deliveries)) {
        failed.set(p.id, `settlement refused ${p.payment.transactionId}`);
      }
    }
    return Promise.resolve(failed);
  };
  return { step, seen };
}

const deadLetters = async (redis: ReturnType<typeof client>) =>
  (await redis.xrange(dlqKey("pix_payments"), "-", "+")).map(([id, f]) =>
    ({ ...fieldsToRecord(f), id }) as Record<string, string>
  );

Deno.test(
  "a payment that keeps failing is retried MAX_DELIVERIES times, then dead-lettered with its last error",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const good = await sendPayments(redis, 40, { backendIds: ["1"] });
    const poisonId = await addRaw(redis, {
      transaction_id: "poison-1",
      backend_id: "1",
      amount: "10.00",
      timestamp: new Date().toISOString(),
      payer_key: "52998224725",
    });
    const { step, seen } = refusingStep((tx) => tx === "poison-1");
    const consumer = new StreamConsumer(options(server.url, {
      maxDeliveries: 3,
      hooks: combineHooks(retryHooks({ steps: [step] })),
    }));
    const stats = await consumeUntil(
      consumer,
      async () =>
        (await redis.xlen(dlqKey("pix_payments"))) === 1 &&
        (await pendingCount(redis, "pix_payments")) === 0,
    );

    // Delivered 1, 2, 3 times to the step; the 4th delivery dead-letters it without processing.
    assert.deepEqual(seen.filter(([tx]) => tx === "poison-1").map(([, n]) => n), [1, 2, 3]);
    assert.equal(stats.reclaimed, 3);
    assert.equal(await redis.get("processed_count"), "40");
    assert.equal(await redis.get("total_amount"), sumAmounts(good).text);
    const [letter] = await deadLetters(redis);
    assert.equal(letter.original_id, poisonId);
    assert.equal(letter.error_code, String(ErrorCode.MAX_DELIVERIES_EXCEEDED));
    assert.equal(letter.deliveries, "4");
    assert.equal(
      letter.reason,
      "Delivered 4 times; the limit is 3; last error: settlement refused poison-1",
    );
    assert.equal(JSON.parse(letter.fields).payer_key, "52998224725");
    const rejected = (await confirmationsOf(redis, "backend_bacen_response_1"))
      .filter((c) => c.status === "rejected");
    assert.deepEqual(rejected.map((c) => [c.transaction_id, c.error_code, c.error_message]), [
      ["poison-1", "2001", letter.reason],
    ]);
    assert.equal(await redis.hlen(lastErrorKey("pix_payments")), 0);
    redis.disconnect();
  },
);

Deno.test(
  "a payment that fails twice then succeeds is confirmed and counted once, its last error cleared",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 30, { backendIds: ["2"] });
    const flaky = payments[7].transaction_id;
    const { step, seen } = refusingStep((tx, deliveries) => tx === flaky && deliveries < 3);
    const consumer = new StreamConsumer(options(server.url, {
      hooks: combineHooks(retryHooks({ steps: [step] })),
    }));
    let sawLastError = "";
    await consumeUntil(consumer, async () => {
      const errors = await redis.hvals(lastErrorKey("pix_payments"));
      if (errors.length > 0) sawLastError = errors[0];
      return Number(await redis.get("processed_count")) === 30 &&
        (await pendingCount(redis, "pix_payments")) === 0;
    });
    assert.equal(sawLastError, `settlement refused ${flaky}`);
    assert.deepEqual(seen.filter(([tx]) => tx === flaky).map(([, n]) => n), [1, 2, 3]);
    assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
    const confirmations = await confirmationsOf(redis, "backend_bacen_response_2");
    assert.equal(confirmations.filter((c) => c.transaction_id === flaky).length, 1);
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);
    assert.equal(await redis.hlen(lastErrorKey("pix_payments")), 0);
    redis.disconnect();
  },
);

Deno.test(
  "a batch whose apply throws stays pending with its last error, and is applied once later",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 25, { backendIds: ["1"] });
    let failures = 2;
    const { applyBatch } = await import("@fastpix/consumer");
    const flakyLedger = {
      apply: (r: typeof redis, batch: Parameters<typeof applyBatch>[1]) => {
        if (failures-- > 0) return Promise.reject(new Error("ledger sink refused the batch"));
        return applyBatch(r, batch);
      },
    };
    const consumer = new StreamConsumer(options(server.url, {
      hooks: combineHooks(retryHooks(), flakyLedger),
    }));
    const lastErrors = new Set<string>();
    await consumeUntil(consumer, async () => {
      for (const e of await redis.hvals(lastErrorKey("pix_payments"))) lastErrors.add(e);
      return Number(await redis.get("processed_count")) === 25;
    });
    assert.deepEqual([...lastErrors], ["ledger sink refused the batch"]);
    assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
    assert.equal((await confirmationsOf(redis, "backend_bacen_response_1")).length, 25);
    assert.equal(await redis.hlen(lastErrorKey("pix_payments")), 0);
    redis.disconnect();
  },
);

Deno.test(
  "replay re-enqueues dead letters as new entries; an already processed payment is not re-enqueued",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "0", "MKSTREAM");
    const [p] = await sendPayments(redis, 1, { backendIds: ["3"] });
    // A second copy of the same payment, and a new one, both held by a dead consumer past the limit.
    const copyId = await addRaw(redis, { ...p });
    const [q] = await sendPayments(redis, 1, { backendIds: ["3"] });
    const ids = (await redis.xrange("pix_payments", "-", "+")).map(([id]) => id);
    await redis.xreadgroup(
      "GROUP",
      "pix_consumers",
      "first",
      "COUNT",
      1,
      "STREAMS",
      "pix_payments",
      ">",
    );
    await redis.xreadgroup("GROUP", "pix_consumers", "ghost", "STREAMS", "pix_payments", ">");
    await redis.xclaim(
      "pix_payments",
      "pix_consumers",
      "ghost",
      0,
      ids[1],
      ids[2],
      "RETRYCOUNT",
      5,
    );
    await sleep(200);
    const consumer = new StreamConsumer(options(server.url, { maxDeliveries: 5 }));
    await consumeUntil(consumer, async () =>
      (await pendingCount(redis, "pix_payments")) === 0 &&
      (await redis.xlen(dlqKey("pix_payments"))) === 2);
    assert.equal(await redis.get("processed_count"), "1");
    const letters = await deadLetters(redis);
    assert.deepEqual(letters.map((l) => l.original_id), [copyId, ids[2]]);

    const { replayed, skipped, processed } = await replayDeadLetters(redis, "pix_payments", {
      all: true,
    });
    // p's copy: its payment is marked processed, so it is deleted, not re-enqueued.
    assert.deepEqual([...processed.values()], [p.transaction_id]);
    assert.equal(replayed.size, 1);
    assert.equal(skipped.size, 0);
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);
    const newIds = [...replayed.values()];
    assert.ok(newIds.every((id) => !ids.includes(id)));
    const replayedFields = await redis.xrange("pix_payments", newIds[0], newIds[0]);
    assert.deepEqual({ ...fieldsToRecord(replayedFields[0][1]) }, { ...q });

    const again = new StreamConsumer(options(server.url, { consumerName: "replayer" }));
    await consumeUntil(again, async () => (await redis.xlen("backend_bacen_response_3")) === 4);
    // q is counted now; p is counted once.
    assert.equal(await redis.get("processed_count"), "2");
    assert.equal(await redis.get("total_amount"), sumAmounts([p, q]).text);
    const statuses = (await confirmationsOf(redis, "backend_bacen_response_3"))
      .map((c) => `${c.transaction_id === p.transaction_id ? "p" : "q"}:${c.status}`);
    assert.deepEqual(statuses, [
      "p:confirmed",
      "p:rejected",
      "q:rejected",
      "q:confirmed",
    ]);
    redis.disconnect();
  },
);

Deno.test(
  "deno task dlq: list, refuse a replay without a selection, purge by code",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const ts = new Date().toISOString();
    const base = { backend_id: "1", timestamp: ts };
    await addRaw(redis, { ...base, transaction_id: "t-bad", amount: "1,5" });
    await addRaw(redis, {
      ...base,
      transaction_id: "t-key",
      amount: "2.00",
      payee_key: "+5520987654321",
    });
    const consumer = new StreamConsumer(options(server.url));
    await consumeUntil(consumer, async () => (await redis.xlen(dlqKey("pix_payments"))) === 2);
    const [first] = await deadLetters(redis);

    const dlq = (...args: string[]) =>
      new ChildTool("consumer/dlq_command.ts", { args, env: { REDIS_URL: server.url } }).finished();
    const list = await dlq("list");
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, /2 dead letters in pix_payments:dlq; showing 2/);
    assert.ok(list.output.includes(first.id) && list.output.includes("t-bad"));
    assert.match(list.output, /1202/);
    assert.match(list.output, /1515/);

    const refused = await dlq("replay");
    assert.equal(refused.code, 2);
    assert.equal(
      refused.output.trim(),
      "dlq: Say which dead letters: give their ids, --code <n> or --all",
    );

    const purge = await dlq("purge", "--code", "1515");
    assert.equal(purge.code, 0, purge.output);
    assert.match(purge.output, /purged 1 dead letters/);
    assert.deepEqual(
      (await deadLetters(redis)).map((l) => JSON.parse(l.fields).transaction_id),
      ["t-bad"],
    );
    assert.deepEqual(
      (await purgeDeadLetters(redis, "pix_payments", { ids: [first.id] })).purged,
      [first.id],
    );
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);
    redis.disconnect();
  },
);
