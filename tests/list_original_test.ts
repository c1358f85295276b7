/**
 * The Python original's list payloads against real redis-server processes: its list injector
 * (`util_pix_injector_demo.py`) pushes `{"transaction_id", "amount", "timestamp"}` with no
 * `backend_id`, the amount a JSON number and the timestamp `datetime.now().isoformat()`. Both list
 * consumers count them exactly (idempotency marks included) and confirm them to nobody, beside
 * payloads that name a backend and are confirmed as always. Its list variables: `REDIS_LIST` (the
 * queues' base name) and `USE_HASHTAG` (`{<base>_<i>}`) are honoured by every tool.
 */
import assert from "node:assert/strict";
import { ListConsumer, type ListConsumerBase, ReliableListConsumer } from "@fastpix/fifo_list_demo";
import {
  DONE_MARK_PREFIX,
  parseAmountCents,
  parseMark,
  paymentFingerprint,
  type PaymentMessage,
} from "@fastpix/pix";
import { type Redis } from "@fastpix/infra";
import { startGatewayProcess } from "@fastpix/loadtest";
import { freePort } from "@fastpix/testing";
import { makePayment } from "@fastpix/simulators";
import {
  ChildTool,
  client,
  confirmationsOf,
  consumeUntil,
  INTEGRATION,
  listConsumerOptions,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const SOURCE = "source_list_0";

/** `datetime.now().isoformat()`: no zone, microseconds (none printed when they are 0). */
function isoformat(ms: number, micros: number): string {
  const base = new Date(ms).toISOString().slice(0, 19);
  return micros === 0 ? base : `${base}.${String(micros).padStart(6, "0")}`;
}

/** One payload exactly as Python's `json.dumps` writes the original's dict. */
interface Original {
  raw: string;
  tx: string;
  cents: number;
}

/**
 * `n` payloads in the original's shape: `txn_<ms>_<i>` ids, float amounts rounded to 2 places
 * (722.28, 10.0, 0.01, ...), zone-less isoformat timestamps.
 */
function originalPayloads(n: number): Original[] {
  const now = Date.now();
  const amounts = ["722.28", "10.0", "0.01", "1999.9", "35.05", "100000.0", "0.1", "4.99"];
  return Array.from({ length: n }, (_, i) => {
    const amount = amounts[i % amounts.length];
    const tx = `txn_${now - 1000 + i}_${i}`;
    const timestamp = isoformat(now - 60_000 + i, i % 5 === 0 ? 0 : (i * 7919) % 1_000_000);
    const raw = `{"transaction_id": "${tx}", "amount": ${amount}, "timestamp": "${timestamp}"}`;
    const [whole, frac = ""] = amount.split(".");
    return { raw, tx, cents: Number(whole) * 100 + Number(frac.padEnd(2, "0")) };
  });
}

const sum = (cents: number[]) => cents.reduce((a, b) => a + BigInt(b), 0n);
const brl = (c: bigint) => `${c / 100n}.${(c % 100n).toString().padStart(2, "0")}`;

async function responseStreams(redis: Redis): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "backend_bacen_response_*");
    found.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return found.sort();
}

for (const design of ["list", "list-reliable"] as const) {
  Deno.test(
    `${design}: the original's payloads without backend_id are counted exactly, confirmed to nobody`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const originals = originalPayloads(300);
      const named: PaymentMessage[] = Array.from(
        { length: 100 },
        (_, i) => makePayment({ backendId: i % 2 === 0 ? "1" : "2" }),
      );
      // Interleaved, plus one original payload sent twice (its idempotency mark answers it).
      const raws: string[] = [];
      for (let i = 0; i < originals.length; i++) {
        raws.push(originals[i].raw);
        if (i % 3 === 0 && named[i / 3] !== undefined) raws.push(JSON.stringify(named[i / 3]));
      }
      raws.push(originals[7].raw);
      await redis.lpush(SOURCE, ...raws);
      assert.equal(await redis.llen(SOURCE), 300 + 100 + 1);

      const options = listConsumerOptions(server.url, `orig_${design}`, { batchSize: 64 });
      const consumer: ListConsumerBase = design === "list"
        ? new ListConsumer(options)
        : new ReliableListConsumer({ ...options, heartbeatTtlMs: 2000 });
      const stats = await consumeUntil(
        consumer,
        async () => await redis.get("processed_count") === "400" && await redis.llen(SOURCE) === 0,
      );

      const expected = sum([
        ...originals.map((o) => o.cents),
        ...named.map((p) => parseAmountCents(p.amount)!),
      ]);
      assert.equal(stats.read, 401);
      assert.equal(stats.confirmed, 400);
      assert.equal(stats.duplicates, 1);
      assert.equal(stats.rejected, 0);
      assert.equal(await redis.get("processed_count"), "400");
      assert.equal(await redis.get("total_amount_cents"), expected.toString());
      assert.equal(await redis.get("total_amount"), brl(expected));
      assert.equal(await redis.exists(`${SOURCE}:dlq`), 0, "no dead letters");
      // Each mark: the payment's fingerprint (no backend, no PIX keys) and the list that counted it.
      for (const o of originals) {
        assert.deepEqual(parseMark((await redis.get(`${DONE_MARK_PREFIX}${o.tx}`))!), {
          fingerprint: paymentFingerprint({ amountCents: o.cents, backendId: "", fields: {} }),
          origin: SOURCE,
        }, o.tx);
      }
      // Confirmations go to the backends named, and only there: none for the original's payloads.
      assert.deepEqual(await responseStreams(redis), [
        "backend_bacen_response_1",
        "backend_bacen_response_2",
      ]);
      for (const backend of ["1", "2"]) {
        const got = await confirmationsOf(redis, `backend_bacen_response_${backend}`);
        const mine = named.filter((p) => p.backend_id === backend);
        assert.equal(got.length, mine.length);
        assert.ok(got.every((c) => c.status === "confirmed"));
        assert.deepEqual(
          new Set(got.map((c) => c.transaction_id)),
          new Set(mine.map((p) => p.transaction_id)),
        );
      }
      redis.disconnect();
    },
  );
}

Deno.test(
  "REDIS_LIST=payments USE_HASHTAG=true: inject, the gateway, consume:list and the monitor use {payments_0}",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const QUEUE = "{payments_0}";
    const env = {
      REDIS_URL: server.url,
      REDIS_LIST: "payments",
      USE_HASHTAG: "true",
      LOG_LEVEL: "warn",
    };
    const inject = await new ChildTool("simulators/inject_command.ts", {
      args: ["--design", "list", "--num-requests", "500", "--batch-size", "50", "--amount", "1.25"],
      env,
    }).finished();
    assert.equal(inject.code, 0, inject.output);
    assert.equal(await redis.llen(QUEUE), 500);

    const gateway = await startGatewayProcess({
      redisUrl: server.url,
      port: freePort(),
      args: ["--design", "list"],
      env,
    });
    try {
      const response = await fetch(`${gateway.url}/pix/payments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          transaction_id: "gw-1",
          backend_id: "1",
          amount: "2.50",
          timestamp: new Date().toISOString(),
        }),
      });
      assert.equal(response.status, 202, await response.text());
      await waitFor("the gateway's payment", async () => await redis.llen(QUEUE) === 501);
    } finally {
      await gateway.stop();
    }
    assert.equal(await redis.exists("source_list_0", "payments_0", "{source_list_0}"), 0);

    const monitor = await new ChildTool("monitor/monitor_command.ts", {
      args: ["--json", "--interval", "0.05"],
      env,
    }).finished();
    assert.equal(monitor.code, 0, monitor.output);
    assert.deepEqual(JSON.parse(monitor.output).lists, [
      { key: QUEUE, kind: "source_list", length: 501 },
    ]);

    const consumer = new ChildTool("fifo_list_demo/consume_list_command.ts", {
      args: ["--block-ms", "100"],
      env: { ...env, CONSUMER_NAME: "hashtagged" },
    });
    try {
      await waitFor("consume:list", async () => await redis.get("processed_count") === "501");
    } finally {
      consumer.kill("SIGTERM");
    }
    const exit = await consumer.finished();
    assert.equal(exit.code, 0, exit.output);
    assert.equal(await redis.get("total_amount_cents"), String(500 * 125 + 250));
    assert.equal(await redis.llen(QUEUE), 0);
    assert.equal(await redis.exists(`${QUEUE}:dlq`), 0);
    const confirmed = await confirmationsOf(redis, "backend_bacen_response_1");
    assert.equal(confirmed.filter((c) => c.status === "confirmed").length, 501);
    redis.disconnect();
  },
);
