/**
 * `deno task reconcile` against real redis-server and PostgreSQL processes: consumed payments
 * agree (exit 0); a counter off by one payment, a transaction confirmed twice, a lost confirmation
 * and a missing ledger row disagree (exit 3), naming the transactions involved.
 */
import assert from "node:assert/strict";
import { connectPostgres, migrate, StreamConsumer } from "@fastpix/consumer";
import { reconcile } from "../consumer/reconcile.ts";
import {
  dlqKey,
  formatCents,
  ledgerBacklogKey,
  ledgerOutboxKey,
  parseAmountCents,
} from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import {
  addRaw,
  ChildTool,
  client,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  sendPayments,
  spawnConsumer,
  startPostgres,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const reconcileCli = (env: Record<string, string>, ...args: string[]) =>
  new ChildTool("consumer/reconcile_command.ts", { args, env: { POSTGRES_DSN: "", ...env } })
    .finished();

const options = {
  stream: "pix_payments",
  partitions: 0,
  responsePrefix: "backend_bacen_response_",
};

/** Adds `cents` as one more counted payment (or takes it away, with -1 and a negative amount). */
async function count(redis: Redis, payments: number, cents: number) {
  await redis.incrby("processed_count", payments);
  const total = await redis.incrby("total_amount_cents", cents);
  await redis.set("total_amount", formatCents(total));
}

Deno.test(
  "reconcile: counters and confirmations agree after consuming; a counter off by one payment and a transaction confirmed twice do not",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 300);
    await addRaw(redis, {
      transaction_id: "bad-1",
      backend_id: "1",
      amount: "1,5",
      timestamp: "x",
    });
    await consumeUntil(
      new StreamConsumer(consumerOptions(server.url)),
      async () =>
        Number(await redis.get("processed_count")) === 300 &&
        (await redis.xlen(dlqKey("pix_payments"))) === 1,
    );
    const env = { REDIS_URL: server.url };
    const agree = await reconcileCli(env);
    assert.equal(agree.code, 0, agree.output);
    assert.match(agree.output, /confirmations {2}300 confirmed \(\d+\.\d\d\) for 300 transactions/);
    assert.match(agree.output, /\nagree: the counters and the confirmations match\n$/);
    const json = JSON.parse((await reconcileCli(env, "--json")).output);
    assert.equal(json.agree, true);
    assert.equal(json.confirmations.rejected, 1);
    assert.deepEqual(json.differences, []);

    // One payment too many in the counters.
    await count(redis, 1, 1234);
    const over = await reconcileCli(env);
    assert.equal(over.code, 3, over.output);
    assert.match(
      over.output,
      /counters_vs_confirmations: processed_count is 301 but 300 payments are confirmed \(\+1\); total_amount_cents is \d+ but \d+ are confirmed \(\+12\.34\)/,
    );
    await count(redis, -1, -1234);

    // One payment confirmed twice.
    const p = payments[17];
    await redis.xadd(
      `backend_bacen_response_${p.backend_id}`,
      "*",
      ...["transaction_id", p.transaction_id, "status", "confirmed", "processed_amount", p.amount],
      ...["backend_id", p.backend_id, "timestamp", new Date().toISOString()],
    );
    const twice = await reconcileCli(env);
    assert.equal(twice.code, 3, twice.output);
    assert.ok(
      twice.output.includes(
        `confirmed_twice: confirmed more than once (1 transaction): ${p.transaction_id}`,
      ),
      twice.output,
    );
    assert.match(twice.output, /processed_count is 300 but 301 payments are confirmed \(-1\)/);
    redis.disconnect();
  },
);

Deno.test(
  "reconcile: a trimmed confirmation stream only bounds the counters; an entry deleted inside it is reported",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await sendPayments(redis, 200, { backendIds: ["1"] });
    await consumeUntil(
      new StreamConsumer(consumerOptions(server.url)),
      async () => Number(await redis.get("processed_count")) === 200,
    );
    await redis.xtrim("backend_bacen_response_1", "MAXLEN", 150);
    const trimmed = await reconcile(redis, options);
    assert.deepEqual(trimmed.differences, []);
    assert.equal(trimmed.confirmations.missingEntries, 50);
    assert.equal(trimmed.confirmations.confirmed, 150);

    const [, [middle]] = await redis.xrange("backend_bacen_response_1", "-", "+", "COUNT", 2);
    await redis.xdel("backend_bacen_response_1", middle);
    const lost = await reconcile(redis, options);
    assert.deepEqual(lost.differences.map((d) => d.kind), ["confirmations_deleted"]);
    redis.disconnect();
  },
);

Deno.test(
  "reconcile with the PostgreSQL ledger: agrees once written; a missing row and another amount are named",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const dsn = await pg.createDatabase("reconcile");
    const sql = connectPostgres(dsn);
    const redis = client(server.url);
    try {
      await migrate(sql);
      const payments = await sendPayments(redis, 400);
      const consumer = spawnConsumer(server.url, { name: "ledgered", env: { POSTGRES_DSN: dsn } });
      await waitFor(
        "every payment counted and written to the ledger",
        async () =>
          Number(await redis.get("processed_count")) === 400 &&
          (await redis.xlen(ledgerOutboxKey("pix_payments"))) === 0 &&
          (await sql`SELECT count(*)::int AS n FROM payments`)[0].n === 400,
        60_000,
      );
      consumer.kill("SIGTERM");
      await consumer.finished();

      const env = { REDIS_URL: server.url, POSTGRES_DSN: dsn };
      const agree = await reconcileCli(env);
      assert.equal(agree.code, 0, agree.output);
      assert.match(agree.output, /ledger {9}400 done \(\d+\.\d\d\), 0 error; outbox empty/);
      assert.match(agree.output, /agree: the counters, the confirmations and the ledger match/);

      const [gone, changed] = [payments[3], payments[250]];
      await sql`DELETE FROM payments WHERE transaction_id = ${gone.transaction_id}`;
      await sql`UPDATE payments SET amount = amount + 1 WHERE transaction_id = ${changed.transaction_id}`;
      const differ = await reconcileCli(env);
      assert.equal(differ.code, 3, differ.output);
      const goneCents = parseAmountCents(gone.amount)!;
      assert.ok(
        differ.output.includes(
          `missing_from_ledger: confirmed, but no done row in the ledger (1 transaction): ${gone.transaction_id}`,
        ),
        differ.output,
      );
      assert.ok(
        differ.output.includes(
          `ledger_amount: the ledger's amount differs from the confirmed one (1 transaction): ${changed.transaction_id}`,
        ),
        differ.output,
      );
      const dCents = 100 - goneCents; // one row gone, another 1.00 higher
      assert.ok(
        differ.output.includes(
          `-1 payments, ${dCents > 0 ? "+" : ""}${formatCents(dCents)}\n`,
        ),
        differ.output,
      );
      // Rows still in the outbox are reported, not compared.
      await redis.set(ledgerBacklogKey("pix_payments"), 7);
      const pending = await reconcile(redis, { ...options, sql });
      assert.deepEqual(pending.differences.map((d) => d.kind), ["ledger_pending"]);
    } finally {
      redis.disconnect();
      await sql.end();
    }
  },
);
