/**
 * The PostgreSQL ledger against private PostgreSQL clusters and redis-server processes: migrations,
 * idempotent writes, exact rows after a SIGKILLed consumer, an outage with bounded buffering and
 * catch-up, and the stats report.
 */
import assert from "node:assert/strict";
import {
  type BatchInfo,
  buildBatch,
  connectPostgres,
  encodeBatch,
  type EncodedBatch,
  migrate,
  type OutboxBatch,
  outboxHooks,
  parseOutbox,
  type RawEntry,
  readLedgerStats,
  writeBatches,
} from "@fastpix/consumer";
import { DEFAULT_LIMITS, dlqKey, formatDecimal, ledgerOutboxKey, UserError } from "@fastpix/pix";
import { sleep } from "@fastpix/infra";
import {
  addRaw,
  ChildTool,
  client,
  consumerOptions,
  INTEGRATION,
  pendingCount,
  sendPayments,
  spawnConsumer,
  startPostgres,
  startRedis,
  sumAmounts,
  waitFor,
} from "./_helpers.ts";
import {
  assertLedgerMatchesRedis,
  backlog,
  count,
  finishedWithin,
  ledgerTotals,
} from "./_pg_helpers.ts";

const STREAM = "pix_payments";

Deno.test(
  "migrations: applied once and in order, a second or concurrent run changes nothing, an edited one is refused",
  INTEGRATION,
  async () => {
    await using pg = await startPostgres();
    const sql = connectPostgres(await pg.createDatabase("m1"));
    try {
      assert.deepEqual(await migrate(sql), {
        applied: ["0001_ledger_tables", "0002_monitor_views"],
        version: 2,
      });
      await sql`INSERT INTO consumer_stats VALUES ('c', 1, 1, 1, 0, 1, now(), now())`;
      assert.deepEqual(await migrate(sql), { applied: [], version: 2 });
      assert.equal((await sql`SELECT * FROM consumer_stats`).length, 1);
      const versions = await sql`SELECT version, name FROM schema_migrations ORDER BY version`;
      assert.deepEqual(versions.map((r) => r.name), ["0001_ledger_tables", "0002_monitor_views"]);

      const dsn = await pg.createDatabase("m2");
      const [a, b] = [connectPostgres(dsn), connectPostgres(dsn)];
      const both = await Promise.all([migrate(a), migrate(b)]);
      assert.deepEqual(both.map((r) => r.applied.length).sort(), [0, 2]);
      await Promise.all([a.end(), b.end()]);

      await sql`UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`;
      await assert.rejects(
        migrate(sql),
        (e) =>
          e instanceof UserError &&
          /0001_ledger_tables changed after it was applied/.test(e.message),
      );
    } finally {
      await sql.end();
    }

    const migrateCli = (env: Record<string, string>) =>
      new ChildTool("consumer/migrate_command.ts", { env }).finished();
    const dsn = await pg.createDatabase("m3");
    const first = await migrateCli({ POSTGRES_DSN: dsn });
    assert.equal(first.code, 0, first.output);
    assert.match(
      first.output,
      /applied 0001_ledger_tables, 0002_monitor_views; ledger schema at version 2/,
    );
    const second = await migrateCli({ POSTGRES_DSN: dsn });
    assert.match(second.output, /already at version 2/);
    const unset = await migrateCli({ POSTGRES_DSN: "" });
    assert.equal(unset.code, 2);
    assert.equal(
      unset.output.trim(),
      "migrate: POSTGRES_DSN is not set: pass --postgres-dsn or set POSTGRES_DSN",
    );
  },
);

function batch(id: string, consumer: string, rows: OutboxBatch["rows"]): EncodedBatch {
  return encodeBatch({
    id,
    stream: STREAM,
    consumer,
    appliedMs: Date.now(),
    processingMs: 3,
    rows,
  });
}

Deno.test(
  "ledger writes are idempotent; done replaces an earlier error of another entry, never the reverse",
  INTEGRATION,
  async () => {
    await using pg = await startPostgres();
    const sql = connectPostgres(await pg.createDatabase("w"));
    try {
      await migrate(sql);
      const t = Date.now() - 1000;
      const batches = [
        batch("01900000-0000-7000-8000-000000000001", "c1", [
          [`${t}-0`, "tx-a", "1", "10.50", "done", null, null, 1],
          [`${t}-1`, "tx-b", "1", null, "error", 1202, "Cannot parse amount", 1],
          [`${t}-2`, null, "2", "1.00", "error", 1001, "Field transaction_id is missing", 1],
          [`${t}-3`, "tx-c", "1", "5.00", "error", 2001, "Delivered 6 times", 6],
          [`${t}-4`, "tx-d", "1", "7.00", "error", 2001, "Delivered 6 times", 6],
        ]),
        batch("01900000-0000-7000-8000-000000000002", "c2", [
          // The same entry as tx-c's error (a consumer that lost the race): the error stays.
          [`${t}-3`, "tx-c", "1", "5.00", "done", null, null, 5],
          // tx-d replayed from the dead letters as a new entry: done replaces the error.
          [`${t + 500}-0`, "tx-d", "1", "7.00", "done", null, null, 1],
          // tx-a sent again: the first done stays.
          [`${t + 500}-1`, "tx-a", "1", "99.99", "done", null, null, 1],
        ]),
      ];
      assert.equal(await writeBatches(sql, batches), 5);
      const snapshot = () =>
        sql`SELECT transaction_id, status, amount::text, error_code, stream_id, consumer
            FROM payments ORDER BY stream_id`;
      const after = await snapshot();
      assert.deepEqual(after.map((r) => [r.transaction_id, r.status, r.amount, r.error_code]), [
        ["tx-a", "done", "10.50", null],
        ["tx-b", "error", null, 1202],
        [null, "error", "1.00", 1001],
        ["tx-c", "error", "5.00", 2001],
        ["tx-d", "done", "7.00", null],
      ]);
      // The writer died after COMMIT and the batches are written again, in two different reads.
      assert.equal(await writeBatches(sql, batches.slice(0, 1)), 0);
      assert.equal(await writeBatches(sql, batches), 0);
      assert.deepEqual(await snapshot(), after);
      assert.deepEqual(await ledgerTotals(sql), { done: 2, amount: "17.50", errors: 3 });
      const stats = await sql`SELECT consumer, batches::int, processed::int, rejected::int
                              FROM consumer_stats ORDER BY consumer`;
      assert.deepEqual(stats.map((r) => [r.consumer, r.batches, r.processed, r.rejected]), [
        ["c1", 1, 5, 4],
        ["c2", 1, 3, 0],
      ]);
      assert.equal((await sql`SELECT * FROM processing_metrics`).length, 2);
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "a run with a SIGKILLed consumer: ledger rows equal the Redis counters, and stats reports them",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const dsn = await pg.createDatabase("crash");
    const sql = connectPostgres(dsn);
    const redis = client(server.url);
    try {
      await migrate(sql);
      const payments = await sendPayments(redis, 12_000);
      const ts = new Date().toISOString();
      for (let i = 0; i < 30; i++) {
        await addRaw(redis, {
          transaction_id: `bad-${i}`,
          backend_id: "1",
          amount: "1,5",
          timestamp: ts,
        });
      }
      for (let i = 0; i < 5; i++) {
        await addRaw(redis, { backend_id: "2", amount: "3.00", timestamp: ts });
      }
      const env = { POSTGRES_DSN: dsn, IDLE_THRESHOLD_MS: "500", CONSUMER_BATCH_SIZE: "200" };
      const crashy = spawnConsumer(server.url, { name: "crashy", env });
      await waitFor(
        "the first consumer to make progress",
        async () => (await count(redis)) >= 3000,
        30_000,
      );
      crashy.kill("SIGKILL");
      await crashy.finished();
      assert.ok((await count(redis)) < 12_000, "the consumer finished before it was killed");

      const survivor = spawnConsumer(server.url, { name: "survivor", env });
      await waitFor(
        "every payment, and every ledger row, to be done",
        async () =>
          (await count(redis)) === 12_000 && (await pendingCount(redis, STREAM)) === 0 &&
          (await redis.xlen(ledgerOutboxKey(STREAM))) === 0,
        60_000,
      );
      await waitFor("the ledger to match", async () => (await ledgerTotals(sql)).done === 12_000);
      assert.equal(await backlog(redis), 0);
      assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
      assert.equal(await redis.xlen(dlqKey(STREAM)), 35);
      await assertLedgerMatchesRedis(redis, sql);
      const byCode = await sql`SELECT error_code, count(*)::int AS n FROM payments
                               WHERE status = 'error' GROUP BY 1 ORDER BY 1`;
      assert.deepEqual(byCode.map((r) => [r.error_code, r.n]), [[1001, 5], [1202, 30]]);

      // Every applied batch counted once in the consumer statistics, whichever process applied it.
      const stats = await readLedgerStats(sql);
      assert.equal(stats.consumers.reduce((s, c) => s + c.processed, 0), 12_035);
      assert.deepEqual(stats.consumers.map((c) => c.consumer).sort(), ["crashy", "survivor"]);
      assert.deepEqual(stats.topErrors.map((e) => [e.code, e.occurrences]), [[1202, 30], [
        1001,
        5,
      ]]);

      const report = await new ChildTool("consumer/stats_command.ts", {
        env: { POSTGRES_DSN: dsn },
      })
        .finished();
      assert.equal(report.code, 0, report.output);
      for (
        const line of [
          "Total payments: 12,035",
          `  ✅ Done: 12,000 (amount ${formatDecimal(sumAmounts(payments).text)})`,
          "  ❌ Error: 35",
          "DONE: 12,000 payments, avg",
          "Code 1202: 30 times",
          '  Message: Cannot parse amount "1,5": use a dot and at most 2 decimals',
          "Consumer: survivor",
        ]
      ) assert.ok(report.output.includes(line), `missing "${line}" in:\n${report.output}`);

      // The monitor shows the same statistics in its ledger panel.
      const monitor = await new ChildTool("monitor/monitor_command.ts", {
        args: ["--once"],
        env: { REDIS_URL: server.url, POSTGRES_DSN: dsn },
      }).finished();
      assert.equal(monitor.code, 0, monitor.output);
      assert.match(monitor.output, /Ledger \(PostgreSQL\)/);
      assert.match(monitor.output, /error 1202, last hour\s.*\b30\b/);
      assert.match(monitor.output, /survivor/);

      survivor.kill("SIGTERM");
      assert.equal((await survivor.finished()).code, 0);
    } finally {
      redis.disconnect();
      await sql.end();
    }
  },
);

Deno.test(
  "PostgreSQL down mid-run: the consumer keeps confirming, pauses past the backlog limit, and the ledger catches up exactly",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const dsn = await pg.createDatabase("outage");
    const sql = connectPostgres(dsn);
    const redis = client(server.url);
    try {
      await migrate(sql);
      const env = {
        POSTGRES_DSN: dsn,
        LEDGER_MAX_BACKLOG: "3000",
        CONSUMER_BATCH_SIZE: "250",
      };
      const consumer = spawnConsumer(server.url, { name: "steady", env });
      const first = await sendPayments(redis, 2000);
      await waitFor(
        "the ledger to have the first payments",
        async () => (await ledgerTotals(sql)).done === 2000 && (await backlog(redis)) === 0,
        30_000,
      );

      await pg.kill();
      const rest = await sendPayments(redis, 6000);
      // The consumer goes on while PostgreSQL is away, until 3000 rows wait; then it pauses.
      await waitFor(
        "the consumer to pause at the backlog limit",
        async () => (await backlog(redis)) > 3000,
        30_000,
      );
      await sleep(1000);
      const paused = await count(redis);
      assert.ok(paused > 5000 && paused <= 5250, `processed ${paused} with PostgreSQL down`);
      await sleep(1000);
      assert.equal(await count(redis), paused, "the consumer went past the backlog limit");
      assert.equal(await backlog(redis), paused - 2000);

      await pg.restart();
      await waitFor(
        "everything processed and recorded",
        async () =>
          (await count(redis)) === 8000 && (await backlog(redis)) === 0 &&
          (await ledgerTotals(sql).catch(() => ({ done: 0 }))).done === 8000,
        60_000,
      );
      assert.equal(await redis.get("total_amount"), sumAmounts([...first, ...rest]).text);
      await assertLedgerMatchesRedis(redis, sql);
      assert.equal(await redis.xlen(ledgerOutboxKey(STREAM)), 0);

      consumer.kill("SIGTERM");
      const { code, output } = await consumer.finished();
      assert.equal(code, 0, output);
      assert.equal(output.match(/PostgreSQL ledger unavailable/g)?.length, 1, output);
      assert.match(output, /ledger backlog is \d+ rows \(limit 3000\): pausing this consumer/);
      assert.match(output, /PostgreSQL ledger is back after [\d.]+ s/);
      assert.match(output, /ledger backlog down to \d+ rows: resuming/);
    } finally {
      redis.disconnect();
      await sql.end();
    }
  },
);

Deno.test(
  "a batch whose entries another consumer already applied is counted only for what it applied",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const sql = connectPostgres(await pg.createDatabase("honest"));
    const redis = client(server.url);
    try {
      await migrate(sql);
      await redis.xgroup("CREATE", STREAM, "pix_consumers", "0", "MKSTREAM");
      const payments = await sendPayments(redis, 290);
      const ts = new Date().toISOString();
      for (let i = 0; i < 10; i++) {
        await addRaw(redis, {
          transaction_id: `bad-${i}`,
          backend_id: "1",
          amount: "0",
          timestamp: ts,
        });
        await addRaw(redis, { backend_id: "2", amount: "3.00", timestamp: ts }); // no transaction id
      }
      const read = async (consumer: string) =>
        ((await redis.xreadgroup("GROUP", "pix_consumers", consumer, "STREAMS", STREAM, ">")) as [
          string,
          RawEntry[],
        ][])[0][1]; // deno-fmt-ignore
      // Slow consumer "a" reads everything; "b" takes over the last 60 entries (as XAUTOCLAIM does
      // when "a" stalls) and applies them first.
      const held = await read("a");
      assert.equal(held.length, 310);
      const taken = held.slice(-60);
      await redis.xclaim(STREAM, "pix_consumers", "b", 0, ...taken.map(([id]) => id));
      const hooks = outboxHooks({ maxBacklog: 1_000_000 });
      const apply = (consumer: string, entries: RawEntry[]) => {
        const info: BatchInfo = {
          stream: STREAM,
          group: "pix_consumers",
          consumerName: consumer,
          maxDeliveries: 5,
          limits: DEFAULT_LIMITS,
          startedMs: Date.now(),
        };
        const batch = buildBatch(entries, consumerOptions(server.url, { consumerName: consumer }));
        return hooks.apply!(redis, batch, info);
      };
      assert.deepEqual((await apply("b", taken)).slice(0, 4), [40, 0, 20, 0]);
      // "a" applies its whole batch: the 60 are skipped, and its outbox entry holds the other 250.
      assert.deepEqual((await apply("a", held)).slice(0, 4), [250, 0, 0, 60]);
      // And the same batch again (a retry after a lost reply): everything skipped, no rows at all.
      assert.deepEqual((await apply("a", held)).slice(0, 4), [0, 0, 0, 310]);
      assert.equal(await backlog(redis), 310);
      const outbox = await redis.xrange(ledgerOutboxKey(STREAM), "-", "+");
      assert.deepEqual(outbox.map(([, f]) => parseOutbox(f)!.rows), [60, 250]);

      assert.equal(await writeBatches(sql, outbox.map(([, f]) => parseOutbox(f)!)), 310);
      const stats = await sql`SELECT consumer, batches::int, processed::int, accepted::int,
                                     rejected::int FROM consumer_stats ORDER BY consumer`;
      assert.deepEqual(
        stats.map((r) => [r.consumer, r.batches, r.processed, r.accepted, r.rejected]),
        [
          ["a", 1, 250, 250, 0],
          ["b", 1, 60, 40, 20],
        ],
      ); // deno-fmt-ignore
      const [metrics] = await sql`SELECT sum(entries)::int AS entries, count(*)::int AS batches,
                                         max(max_latency_ms) >= min(avg_latency_ms) AS sane
                                  FROM processing_metrics`;
      assert.deepEqual(metrics, { entries: 310, batches: 2, sane: true });
      const byConsumer = await sql`SELECT consumer, status, count(*)::int AS n FROM payments
                                   GROUP BY 1, 2 ORDER BY 1, 2`;
      assert.deepEqual(byConsumer.map((r) => [r.consumer, r.status, r.n]), [
        ["a", "done", 250],
        ["b", "done", 40],
        ["b", "error", 20],
      ]);
      assert.equal(await redis.get("processed_count"), "290");
      assert.equal(await redis.get("total_amount"), sumAmounts(payments).text);
    } finally {
      redis.disconnect();
      await sql.end();
    }
  },
);

Deno.test(
  "the consumer and stats refuse a database whose applied migration was edited, naming it",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const dsn = await pg.createDatabase("edited");
    const sql = connectPostgres(dsn);
    try {
      await migrate(sql);
      await sql`UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2`;
    } finally {
      await sql.end();
    }
    const consumer = await finishedWithin(
      spawnConsumer(server.url, { name: "c", env: { POSTGRES_DSN: dsn } }),
      10_000,
    );
    assert.ok(!consumer.timedOut, `the consumer did not refuse to start:\n${consumer.output}`);
    assert.equal(consumer.code, 2, consumer.output);
    const line =
      "Migration 0002_monitor_views differs from the one applied to this database (checksum mismatch)";
    assert.equal(consumer.output.trim().split("\n").length, 1, consumer.output);
    assert.ok(consumer.output.startsWith(`consume: ${line}`), consumer.output);
    const stats = await new ChildTool("consumer/stats_command.ts", { env: { POSTGRES_DSN: dsn } })
      .finished();
    assert.equal(stats.code, 2, stats.output);
    assert.ok(stats.output.startsWith(`stats: ${line}`), stats.output);
  },
);
