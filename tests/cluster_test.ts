/**
 * Partitioned streams on a real Redis Cluster started by the tests (loopback, free ports, temporary
 * folders): the stream design's guarantees hold with PARTITIONS=3 over 3 masters, and across a
 * master SIGKILLed and replaced by its replica while payments flow.
 */
import assert from "node:assert/strict";
import keySlot from "cluster-key-slot";
import { applyBatch, buildBatch, CONSUMER_DEFAULTS, type RawEntry } from "@fastpix/consumer";
import {
  createClient,
  layoutKeys,
  readTotals,
  type RedisClient,
  responseKeysOf,
  sleep,
} from "@fastpix/infra";
import {
  dlqKey,
  ErrorCode,
  fieldsToRecord,
  type PaymentMessage,
  toStreamFields,
} from "@fastpix/pix";
import { RedisCluster } from "@fastpix/testing";
import { makePayment } from "@fastpix/simulators";
import { streamEnqueuer } from "@fastpix/queue";
import {
  confirmationsOf,
  INTEGRATION,
  pendingCount,
  spawnConsumer,
  sumAmounts,
  waitFor,
} from "./_helpers.ts";

const P = 3;
const layout = { stream: "pix_payments", partitions: P, routeBy: "transaction" as const };
const BACKENDS = ["1", "2", "3", "4"];
const PREFIX = "backend_bacen_response_";

function consumer(cluster: RedisCluster, name: string, args: string[] = []) {
  return spawnConsumer("redis://unused:1", {
    name,
    args: ["--partitions", String(P), "--block-ms", "100", ...args],
    env: { REDIS_CLUSTER: cluster.seeds.join(","), IDLE_THRESHOLD_MS: "1000" },
  });
}

/** Every confirmation of every backend, from every partition's response stream. */
async function allConfirmations(redis: RedisClient) {
  const all = [];
  for (const backend of BACKENDS) {
    for (const key of responseKeysOf(layout, PREFIX, backend)) {
      all.push(...await confirmationsOf(redis, key));
    }
  }
  return all;
}

/** How many times each transaction id got each status. */
function tally(confirmations: { transaction_id: string; status: string }[]) {
  const byStatus = new Map<string, Map<string, number>>();
  for (const c of confirmations) {
    const m = byStatus.get(c.status) ?? new Map<string, number>();
    m.set(c.transaction_id, (m.get(c.transaction_id) ?? 0) + 1);
    byStatus.set(c.status, m);
  }
  return (status: string) => byStatus.get(status) ?? new Map<string, number>();
}

async function assertEveryPaymentCountedOnce(redis: RedisClient, payments: PaymentMessage[]) {
  const totals = await readTotals(redis, layout);
  const { cents, text } = sumAmounts(payments);
  assert.equal(totals.processedCount, payments.length);
  assert.equal(totals.totalAmountCents, cents);
  assert.equal(totals.totalAmount, text);
  const confirmed = tally(await allConfirmations(redis))("confirmed");
  assert.equal(confirmed.size, payments.length);
  assert.ok([...confirmed.values()].every((n) => n === 1), "a payment was confirmed twice");
  for (const p of payments) assert.ok(confirmed.has(p.transaction_id), "a payment is missing");
  for (const k of layoutKeys(layout)) assert.equal(await pendingCount(redis, k.stream), 0);
  return totals;
}

Deno.test(
  "PARTITIONS=3 on 3 masters: every payment confirmed once, exact totals summed, DLQ, duplicates",
  INTEGRATION,
  async () => {
    await using cluster = await RedisCluster.start({ masters: 3 });
    const redis = createClient({ url: "", cluster: cluster.seeds }, { name: "test" });
    try {
      // The partitions' tags put them on three different masters.
      const masters = await Promise.all(
        layoutKeys(layout).map((k) => cluster.masterOf(keySlot(k.stream))),
      );
      assert.equal(new Set(masters).size, 3);

      // Two processes share the partitions statically: 0/2 owns p0 and p2, 1/2 owns p1.
      const a = consumer(cluster, "a", ["--partitions-of", "0/2"]);
      const b = consumer(cluster, "b", ["--partitions-of", "1/2"]);
      const enqueuer = streamEnqueuer("pix_payments", { partitions: P });
      const payments: PaymentMessage[] = [];
      for (let i = 0; i < 6000; i += 500) {
        const batch = Array.from(
          { length: 500 },
          (_, j) => makePayment({ backendId: BACKENDS[(i + j) % 4] }),
        );
        await enqueuer.enqueue(redis, batch);
        payments.push(...batch);
      }
      const bad = [
        { ...makePayment({ backendId: "1" }), amount: "12,5" },
        { ...makePayment({ backendId: "2" }), amount: "0" },
        { ...makePayment({ backendId: "3" }), timestamp: "yesterday" },
      ];
      // A producer retry of 10 payments: same transaction ids, so the same partitions and marks.
      const resent = payments.slice(0, 10);
      await enqueuer.enqueue(redis, [...bad, ...resent]);

      await waitFor("every payment counted", async () => {
        const t = await readTotals(redis, layout);
        const dead = await Promise.all(layoutKeys(layout).map((k) => redis.xlen(k.dlq)));
        return t.processedCount >= payments.length && dead.reduce((s, n) => s + n, 0) >= 3;
      }, 30_000);
      await waitFor(
        "the duplicates answered",
        async () => tally(await allConfirmations(redis))("duplicate").size >= 10,
      );
      const totals = await assertEveryPaymentCountedOnce(redis, payments);
      assert.ok(totals.partitions.every((p) => p.processedCount > 1500), "a partition is starved");

      const answers = tally(await allConfirmations(redis));
      assert.deepEqual(
        [...answers("duplicate").keys()].sort(),
        resent.map((p) => p.transaction_id).sort(),
      );
      assert.deepEqual(
        [...answers("rejected").keys()].sort(),
        bad.map((p) => p.transaction_id).sort(),
      );
      const dead = [];
      for (const k of layoutKeys(layout)) {
        assert.equal(k.dlq, dlqKey(k.stream));
        dead.push(...(await redis.xrange(k.dlq, "-", "+")).map(([, f]) => fieldsToRecord(f)));
      }
      assert.deepEqual(
        dead.map((d) => d.error_code).sort(),
        [ErrorCode.AMOUNT_FORMAT, ErrorCode.AMOUNT_NOT_POSITIVE, ErrorCode.TIMESTAMP_INVALID]
          .map(String).sort(),
      );

      for (const c of [a, b]) c.kill("SIGTERM");
      for (const c of [a, b]) assert.equal((await c.finished()).code, 0);

      // Declared mark keys make Redis vet the batch before it runs: a mark without the partition's
      // tag (here on another master) is refused up front, and the entry stays pending, unacked.
      const k = layoutKeys(layout)[0];
      const home = await cluster.masterOf(keySlot(k.stream));
      let payment = makePayment({ backendId: "1" });
      while (await cluster.masterOf(keySlot(`pix:done:${payment.transaction_id}`)) === home) {
        payment = makePayment({ backendId: "1" });
      }
      await redis.xadd(k.stream, "*", ...toStreamFields(payment));
      const read = await redis.xreadgroup(
        "GROUP",
        "pix_consumers",
        "probe",
        "COUNT",
        1,
        "STREAMS",
        k.stream,
        ">",
      ) as [string, RawEntry[]][]; // deno-fmt-ignore
      const wrong = buildBatch(read[0][1], {
        ...CONSUMER_DEFAULTS,
        stream: k.stream,
        group: "pix_consumers",
        consumerName: "probe",
        responsePrefix: PREFIX,
        keys: { ...k, markPrefix: "pix:done:" },
      });
      await assert.rejects(applyBatch(redis, wrong), /CROSSSLOT|MOVED|non local/);
      assert.equal(await pendingCount(redis, k.stream), 1);
    } finally {
      redis.disconnect();
    }
  },
);

Deno.test(
  "a master SIGKILLed mid-run, its replica promoted: consumers carry on, nothing lost or counted twice",
  INTEGRATION,
  async () => {
    await using cluster = await RedisCluster.start({
      masters: 3,
      replicas: 1,
      nodeTimeoutMs: 1000,
    });
    const redis = createClient({ url: "", cluster: cluster.seeds }, { name: "test" });
    try {
      const worker = consumer(cluster, "worker", ["--batch-size", "200"]);
      // The producer waits for 1 replica after each write (WAIT 1): an entry acknowledged to it is
      // on the replica, so the failover cannot lose it. On any error it resends the batch.
      const enqueuer = streamEnqueuer("pix_payments", {
        partitions: P,
        waitReplicas: 1,
        waitTimeoutMs: 500,
      });
      const victimSlot = keySlot(layoutKeys(layout)[1].stream);
      const victim = await cluster.masterOf(victimSlot);
      const payments: PaymentMessage[] = [];
      let resends = 0, killedAt = 0, resumedAt = 0;
      let healed: Promise<void> | undefined;
      const t0 = Date.now();
      for (let i = 0; i < 60; i++) {
        const batch = Array.from(
          { length: 200 },
          (_, j) => makePayment({ backendId: BACKENDS[j % 4] }),
        );
        if (i === 15) {
          await cluster.kill(victim);
          killedAt = Date.now();
          // Once its replica took over, the killed node comes back and rejoins as a replica:
          // until then WAIT 1 cannot succeed on that shard, so durable writes to it stall.
          healed = cluster.waitOk(30_000).then(() => cluster.restart(victim));
          healed.catch(() => {}); // awaited below; a stalled producer says why
        }
        while (true) {
          try {
            await enqueuer.enqueue(redis, batch);
            break;
          } catch (error) {
            resends++;
            if (Date.now() - killedAt > 50_000) {
              await healed; // throws if the failover or the rejoin failed
              throw new Error(`The producer could not write for 50 s: ${(error as Error).message}`);
            }
            await sleep(200);
          }
        }
        if (i === 15) resumedAt = Date.now();
        payments.push(...batch);
        await sleep(20);
      }
      await healed;
      const promoted = await cluster.masterOf(victimSlot);
      assert.notEqual(promoted, victim);

      await waitFor(
        "every payment counted",
        async () => (await readTotals(redis, layout)).processedCount >= payments.length,
        40_000,
      );
      await assertEveryPaymentCountedOnce(redis, payments);
      console.log(
        `failover: writes to the killed master's partition resumed after ${
          resumedAt - killedAt
        } ms (${resends} batch resends), ${payments.length} payments in ${Date.now() - t0} ms`,
      );

      worker.kill("SIGTERM");
      const { code, output } = await worker.finished();
      assert.equal(code, 0);
      assert.match(output, /retrying/, "the consumer never saw the outage");
    } finally {
      redis.disconnect();
    }
  },
);
