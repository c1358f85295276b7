/**
 * The crash run's per-payment ledger on planted Redis state: it must notice a payment lost, one
 * counted twice, what was recovered, and counters that disagree.
 */
import assert from "node:assert/strict";
import { crashLedger, heldBy } from "@fastpix/loadtest";
import { listProcessingKey, parseAmountCents, type PaymentMessage } from "@fastpix/pix";
import { type Redis } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import { client, INTEGRATION, sendPayments, startRedis } from "./_helpers.ts";

const cents = (p: PaymentMessage) => parseAmountCents(p.amount)!;

async function confirm(redis: Redis, p: PaymentMessage, status = "confirmed") {
  await redis.xadd(
    `backend_bacen_response_${p.backend_id}`,
    "*",
    "transaction_id",
    p.transaction_id,
    "status",
    status,
    "processed_amount",
    p.amount,
    "backend_id",
    p.backend_id,
    "timestamp",
    "t",
  ); // deno-fmt-ignore
}

Deno.test(
  "ledger from confirmations: lost, processed twice, recovered, counters",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const [a, b, c, d] = Array.from({ length: 4 }, () => makePayment({ backendId: "1" }));
    await confirm(redis, a);
    await confirm(redis, b);
    await confirm(redis, b); // counted twice
    await confirm(redis, d);
    await confirm(redis, d, "duplicate"); // a redelivery caught by the mark: not counted
    await redis.set("processed_count", 4);
    await redis.set("total_amount_cents", cents(a) + 2 * cents(b) + cents(d));
    // The victim held a (recovered), b (counted twice: not a clean recovery) and c (lost).
    await redis.lpush(listProcessingKey("victim"), ...[a, b, c].map((p) => JSON.stringify(p)));
    const held = await heldBy(redis, "list-reliable", "victim");
    assert.deepEqual(new Set(held), new Set([a, b, c].map((p) => p.transaction_id)));
    const ledger = await crashLedger(redis, "list-reliable", [a, b, c, d], held);
    assert.deepEqual(ledger, {
      sent: 4,
      held: 3,
      lost: 1,
      processedTwice: 1,
      recovered: 1,
      duplicateConfirmations: 1,
      countersAgree: true,
      source: "confirmations",
    }); // deno-fmt-ignore
    await redis.set("processed_count", 3);
    assert.equal((await crashLedger(redis, "list", [a, b, c, d], null)).countersAgree, false);
    assert.equal(await heldBy(redis, "list", "victim"), null);
    redis.disconnect();
  },
);

Deno.test(
  "ledger of the basic design from the consumer group and the counters",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const sent = await sendPayments(redis, 5, { backendIds: ["1"] });
    await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "0");
    const read = await redis.xreadgroup(
      "GROUP",
      "pix_consumers",
      "victim",
      "COUNT",
      4,
      "STREAMS",
      "pix_payments",
      ">",
    ) as [string, [string, string[]][]][]; // deno-fmt-ignore
    const ids = read[0][1].map(([id]) => id);
    const held = await heldBy(redis, "basic", "victim");
    assert.deepEqual(held, sent.slice(0, 4).map((p) => p.transaction_id));
    // Entries 1-3 acknowledged, entry 4 still pending, entry 5 never delivered; 4 counted in all.
    await redis.xack("pix_payments", "pix_consumers", ...ids.slice(0, 3));
    await redis.set("processed_count", 4);
    const ledger = await crashLedger(redis, "basic", sent, held);
    assert.equal(ledger.lost, 2);
    assert.equal(ledger.processedTwice, 1);
    assert.equal(ledger.recovered, 3);
    assert.equal(ledger.source, "consumer group");
    redis.disconnect();
  },
);
