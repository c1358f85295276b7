/**
 * The Python original's list payloads against real redis-server processes: its list injector
 * (`util_pix_injector_demo.py`) pushes `{"transaction_id", "amount", "timestamp"}` with no
 * `backend_id`, the amount a JSON number and the timestamp `datetime.now().isoformat()`. Both list
 * consumers count them exactly (idempotency marks included) and confirm them to nobody, beside
 * payloads that name a backend and are confirmed as always.
 */
import assert from "node:assert/strict";
import { ListConsumer, type ListConsumerBase, ReliableListConsumer } from "@fastpix/fifo_list_demo";
import { DONE_MARK_PREFIX, parseAmountCents, type PaymentMessage } from "@fastpix/pix";
import { type Redis } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import {
  client,
  confirmationsOf,
  consumeUntil,
  INTEGRATION,
  listConsumerOptions,
  startRedis,
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
      for (const o of originals) {
        assert.equal(await redis.get(`${DONE_MARK_PREFIX}${o.tx}`), SOURCE, o.tx);
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
