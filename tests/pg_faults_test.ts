/**
 * The PostgreSQL ledger against a database that fails: backends killed under load (and the driver
 * fault that used to end the process), a frozen server, a locked table, and errors no retry heals
 * (wrong password, missing database, revoked permission, dropped database), at start and later.
 */
import assert from "node:assert/strict";
import { connectPostgres, migrate, Postgres, type Sql } from "@fastpix/consumer";
import { sleep } from "@fastpix/infra";
import { ledgerOutboxKey } from "@fastpix/pix";
import {
  ChildTool,
  client,
  INTEGRATION,
  PostgresServer,
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
  loggedAt,
  signalServer,
} from "./_pg_helpers.ts";

const STREAM = "pix_payments";
const UNAVAILABLE = /PostgreSQL ledger unavailable at /;

/** Lets role `role` log in with `password` over TCP (scram-sha-256) and use `database`'s tables. */
async function addPasswordRole(
  pg: PostgresServer,
  role: string,
  password: string,
  database: string,
) {
  await pg.psql(`CREATE ROLE ${role} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
  await pg.psql(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${role}`, database);
  await pg.psql(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`, database);
  const hba = `${pg.dir}/data/pg_hba.conf`;
  const rules = await Deno.readTextFile(hba);
  await Deno.writeTextFile(hba, `host all ${role} 127.0.0.1/32 scram-sha-256\n${rules}`);
  await pg.psql("SELECT pg_reload_conf()");
}

/** `postgres://role:password@127.0.0.1:port/database`, the password as people paste it. */
function rawDsn(pg: PostgresServer, role: string, password: string, database: string): string {
  return `postgres://${role}:${password}@127.0.0.1:${pg.port}/${database}`;
}

/** The ledger's backends (not the test's own sessions, which are psql's). */
async function ledgerBackends(pg: PostgresServer): Promise<number[]> {
  const out = await pg.psql(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'fastpix'",
  ).catch(() => "");
  return out.split("\n").filter((l) => l.trim() !== "").map(Number);
}

/** Runs `deno task stats`, which must fail in one line matching `line` within `seconds`. */
async function statsFailsInTime(env: Record<string, string>, line: RegExp, seconds: number) {
  const stats = await finishedWithin(
    new ChildTool("consumer/stats_command.ts", { env }),
    10_000,
  );
  assert.ok(!stats.timedOut, `stats hung:\n${stats.output}`);
  assert.equal(stats.code, 2, stats.output);
  assert.equal(stats.output.trim().split("\n").length, 1, stats.output);
  assert.match(stats.output, line);
  assert.ok(stats.seconds < seconds, `stats took ${stats.seconds} s`);
  return stats;
}

async function migrated(pg: PostgresServer, name: string): Promise<{ dsn: string; sql: Sql }> {
  const dsn = await pg.createDatabase(name);
  const sql = connectPostgres(dsn, { max: 1 });
  await migrate(sql);
  return { dsn, sql };
}

Deno.test(
  "PostgreSQL backends killed over and over at 3,000 payments/s: the consumer lives and the ledger equals Redis",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const { dsn, sql: setup } = await migrated(pg, "kills");
    await setup.end();
    const redis = client(server.url);
    try {
      const consumer = spawnConsumer(server.url, {
        name: "survivor",
        env: { POSTGRES_DSN: dsn, CONSUMER_BATCH_SIZE: "200" },
      });
      let exited = false;
      consumer.finished().then(() => exited = true);
      const payments: Awaited<ReturnType<typeof sendPayments>> = [];
      let killing = true;
      const sending = (async () => {
        // 300 payments every 100 ms (3,000 payments/s) for as long as the kills go on.
        while (killing || payments.length < 15_000) {
          const started = Date.now();
          payments.push(...await sendPayments(redis, 300));
          await sleep(Math.max(0, 100 - (Date.now() - started)));
        }
      })();
      await waitFor("the first ledger rows", async () => (await count(redis)) > 0, 30_000);
      // Terminate the ledger's backends, and every fourth time SIGKILL one (the server then goes
      // through crash recovery, ending every session), until 12 kills hit a backend.
      let kills = 0;
      let crashes = 0;
      const deadline = Date.now() + 120_000;
      for (let round = 0; kills < 12 && !exited && Date.now() < deadline; round++) {
        await sleep(700);
        const pids = await ledgerBackends(pg);
        if (pids.length === 0) continue;
        if (kills % 4 === 3) {
          Deno.kill(pids[0], "SIGKILL");
          crashes++;
        } else {
          await pg.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fastpix'",
          ).catch(() => {});
        }
        kills++;
      }
      killing = false;
      await sending;
      const total = payments.length;
      if (exited) assert.fail(`the consumer died:\n${(await consumer.finished()).output}`);
      assert.ok(kills >= 12 && crashes >= 3, `only ${kills} kills (${crashes} crashes)`);

      await waitFor(
        "every payment processed and every ledger row written",
        async () =>
          (await count(redis)) === total && (await backlog(redis)) === 0 &&
          (await redis.xlen(ledgerOutboxKey(STREAM))) === 0,
        90_000,
      );
      // The last kill may have been a SIGKILL: the server may still be in crash recovery.
      await waitFor(
        "PostgreSQL out of crash recovery",
        () => pg.psql("SELECT 1").then(() => true, () => false),
        60_000,
      );
      const sql = connectPostgres(dsn, { max: 1 });
      try {
        assert.deepEqual(await ledgerTotals(sql), {
          done: total,
          amount: sumAmounts(payments).text,
          errors: 0,
        });
        await assertLedgerMatchesRedis(redis, sql);
      } finally {
        await sql.end();
      }
      assert.ok(!exited, "the consumer died after the kills");
      consumer.kill("SIGTERM");
      const { code, output } = await finishedWithin(consumer, 15_000);
      assert.equal(code, 0, output);
      assert.doesNotMatch(output, /Uncaught|TypeError/, output);
      const faults = output.match(/PostgreSQL driver failed outside any query/g)?.length ?? 0;
      console.log(
        `  ${kills} kills (${crashes} crash recoveries) during ${total} payments, ${faults} driver faults contained`,
      );
    } finally {
      redis.disconnect();
    }
  },
);

Deno.test(
  "a driver fault outside any query (porsager/postgres#1154) is contained: the client reconnects",
  INTEGRATION,
  async () => {
    await using pg = await startPostgres();
    const db = new Postgres(pg.dsn(), { timeouts: { connectMs: 2000, statementMs: 5000 } });
    try {
      assert.equal((await db.run((sql) => sql`SELECT 1 AS n`))[0].n, 1);
      const before = db.sql;
      const inFlight = db.run((sql) => sql`SELECT pg_sleep(3)`);
      // What postgres.js throws from its setImmediate after a connection closed (3.4.9).
      const fault = new TypeError("Cannot read properties of null (reading 'write')");
      fault.stack = `${fault.name}: ${fault.message}\n` +
        "    at Immediate.nextWrite (file:///cache/npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:22)\n" +
        "    at Immediate.callback (ext:deno_node/internal/timers.mjs:4:3069)";
      setTimeout(() => {
        throw fault;
      }, 50);
      await assert.rejects(inFlight, (e: Error & { code?: string }) => e.code === "DRIVER_FAILED");
      assert.notEqual(db.sql, before, "the client was not replaced");
      assert.equal((await db.run((sql) => sql`SELECT 2 AS n`))[0].n, 2);
      // The same from a promise nobody awaits.
      const replaced = db.sql;
      const rejected = Promise.reject(fault);
      await sleep(50);
      assert.notEqual(db.sql, replaced, "the client was not replaced");
      rejected.catch(() => {});
      assert.equal((await db.run((sql) => sql`SELECT 3 AS n`))[0].n, 3);
    } finally {
      await db.end();
    }
  },
);

Deno.test(
  "PostgreSQL frozen (SIGSTOP): unavailable within the connect timeout, stats fails in one line, SIGTERM exits in time, and the ledger catches up later",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const { dsn, sql } = await migrated(pg, "frozen");
    const redis = client(server.url);
    let frozen = false;
    try {
      const env = { POSTGRES_DSN: dsn, CONSUMER_BATCH_SIZE: "250" }; // default timeouts: 5 s / 10 s
      const consumer = spawnConsumer(server.url, { name: "thawed", env });
      const first = await sendPayments(redis, 2000);
      await waitFor(
        "the first payments in the ledger",
        async () => (await ledgerTotals(sql)).done === 2000,
        30_000,
      );

      await signalServer(pg, "SIGSTOP");
      frozen = true;
      const frozenAt = Date.now();
      const rest = await sendPayments(redis, 3000);
      await waitFor(
        "the consumer to go on without PostgreSQL",
        async () => (await count(redis)) === 5000,
      );

      const stats = await statsFailsInTime(
        { POSTGRES_DSN: dsn, POSTGRES_CONNECT_TIMEOUT_MS: "2000" },
        /^stats: PostgreSQL at postgres:\/\/fastpix@127\.0\.0\.1:\d+\/frozen did not answer in time/,
        7,
      );

      await sleep(Math.max(0, frozenAt + 7000 - Date.now()));
      const stoppedAt = Date.now();
      consumer.kill("SIGTERM");
      const stopped = await finishedWithin(consumer, 15_000);
      const exitS = (Date.now() - stoppedAt) / 1000;
      assert.ok(!stopped.timedOut && exitS < 10, `SIGTERM took ${exitS} s:\n${stopped.output}`);
      assert.equal(stopped.code, 0, stopped.output);
      const reportedAt = loggedAt(stopped.output, UNAVAILABLE);
      assert.ok(reportedAt !== undefined, `no unavailable line:\n${stopped.output}`);
      const reportS = (reportedAt - frozenAt) / 1000;
      assert.ok(reportS > 0 && reportS < 7, `unavailable logged ${reportS} s after the freeze`);
      assert.equal(
        stopped.output.match(/PostgreSQL ledger unavailable/g)?.length,
        1,
        stopped.output,
      );
      console.log(
        `  frozen: unavailable after ${reportS.toFixed(1)} s, stats failed after ${
          stats.seconds.toFixed(1)
        } s, SIGTERM exit after ${exitS.toFixed(1)} s`,
      ); // deno-fmt-ignore

      // The rows not written wait in Redis; thawed, the next consumer writes them.
      assert.ok((await backlog(redis)) > 0, "no rows were left waiting");
      await signalServer(pg, "SIGCONT");
      frozen = false;
      const catchUp = async (done: number) => {
        await waitFor(
          "the ledger to catch up",
          async () =>
            (await backlog(redis)) === 0 &&
            (await ledgerTotals(sql).catch(() => ({ done: 0 }))).done === done,
          60_000,
        );
        await assertLedgerMatchesRedis(redis, sql);
      };
      const next = spawnConsumer(server.url, { name: "thawed", env });
      await catchUp(5000);
      assert.equal(await redis.get("total_amount"), sumAmounts([...first, ...rest]).text);

      // Frozen again, and SIGTERM a second later, with a write hanging and no outage declared yet.
      await signalServer(pg, "SIGSTOP");
      frozen = true;
      await sendPayments(redis, 1000);
      await sleep(1000);
      const hungAt = Date.now();
      next.kill("SIGTERM");
      const hung = await finishedWithin(next, 15_000);
      const hungS = (Date.now() - hungAt) / 1000;
      assert.ok(!hung.timedOut && hungS < 10, `SIGTERM took ${hungS} s:\n${hung.output}`);
      assert.equal(hung.code, 0, hung.output);
      await signalServer(pg, "SIGCONT");
      frozen = false;
      const last = spawnConsumer(server.url, { name: "thawed", env });
      await catchUp(6000);
      last.kill("SIGTERM");
      assert.equal((await finishedWithin(last, 15_000)).code, 0);
      console.log(`  frozen: SIGTERM with a write hanging exited after ${hungS.toFixed(1)} s`);
    } finally {
      if (frozen) await signalServer(pg, "SIGCONT");
      redis.disconnect();
      await sql.end({ timeout: 1 });
    }
  },
);

Deno.test(
  "a locked table: unavailable after the statement timeout, stats fails in one line, and the ledger catches up once it is released",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const { dsn, sql } = await migrated(pg, "locked");
    const redis = client(server.url);
    try {
      const env = { POSTGRES_DSN: dsn, POSTGRES_STATEMENT_TIMEOUT_MS: "3000" };
      const consumer = spawnConsumer(server.url, { name: "patient", env });
      const first = await sendPayments(redis, 1000);
      await waitFor("the first rows", async () => (await ledgerTotals(sql)).done === 1000, 30_000);

      const locker = pg.psql(
        "BEGIN; LOCK TABLE payments IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(9); COMMIT;",
        "locked",
      );
      await waitFor("the lock", async () =>
        (await pg.psql(
          "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'payments'::regclass",
          "locked",
        )) === "1"); // deno-fmt-ignore
      const lockedAt = Date.now();
      const rest = await sendPayments(redis, 1000);

      const stats = await statsFailsInTime(
        { POSTGRES_DSN: dsn, POSTGRES_STATEMENT_TIMEOUT_MS: "2000" },
        /^stats: PostgreSQL at \S+ did not answer in time \(canceling statement due to statement timeout\)/,
        8,
      );

      await locker;
      await waitFor(
        "the ledger to catch up",
        async () => (await backlog(redis)) === 0 && (await ledgerTotals(sql)).done === 2000,
        30_000,
      );
      assert.equal(await redis.get("total_amount"), sumAmounts([...first, ...rest]).text);
      await assertLedgerMatchesRedis(redis, sql);
      consumer.kill("SIGTERM");
      const { code, output } = await finishedWithin(consumer, 15_000);
      assert.equal(code, 0, output);
      const reportS = (loggedAt(output, UNAVAILABLE) ?? Infinity) - lockedAt;
      assert.ok(
        reportS > 0 && reportS < 6000,
        `unavailable logged ${reportS} ms after the lock:\n${output}`,
      );
      assert.match(output, /unavailable at \S+ \(canceling statement due to statement timeout\)/);
      assert.match(output, /PostgreSQL ledger is back after [\d.]+ s/);
      console.log(
        `  locked: unavailable after ${(reportS / 1000).toFixed(1)} s, stats failed after ${
          stats.seconds.toFixed(1)
        } s`,
      ); // deno-fmt-ignore
    } finally {
      redis.disconnect();
      await sql.end();
    }
  },
);

Deno.test(
  "errors no retry heals end the consumer in one line within 10 s: at start (wrong password, missing database) and later (permission revoked, database dropped)",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const password = "r#ght/p?ss@w%rd";
    const perm = await migrated(pg, "perm");
    await perm.sql.end();
    await addPasswordRole(pg, "app", password, "perm");
    const redis = client(server.url);
    const consume = async (name: string, dsn: string) => {
      const result = await finishedWithin(
        spawnConsumer(server.url, { name, env: { POSTGRES_DSN: dsn } }),
        10_000,
      );
      assert.ok(!result.timedOut, `${name} did not stop:\n${result.output}`);
      assert.equal(result.code, 2, result.output);
      assert.ok(
        !result.output.includes("r#ght") && !result.output.includes("r%23ght"),
        result.output,
      );
      return result.output.trim().split("\n").at(-1)!;
    };
    try {
      // At start.
      assert.match(
        await consume("wrong", rawDsn(pg, "app", "wrong#pass", "perm")),
        /^consume: PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/perm refused: authentication failed: password authentication failed for user "app": fix POSTGRES_DSN$/,
      );
      assert.match(
        await consume("nodb", pg.dsn("nosuchdb")),
        /^consume: PostgreSQL at \S+\/nosuchdb refused: the database does not exist: database "nosuchdb" does not exist/,
      );

      // Later: the right password (reserved characters and all) works, until INSERT is revoked.
      const consumer = spawnConsumer(server.url, {
        name: "app",
        env: { POSTGRES_DSN: rawDsn(pg, "app", password, "perm") },
      });
      await sendPayments(redis, 500);
      const sql = connectPostgres(pg.dsn("perm"), { max: 1 });
      try {
        await waitFor("rows written as app", async () => (await ledgerTotals(sql)).done === 500);
      } finally {
        await sql.end();
      }
      await pg.psql("REVOKE INSERT ON payments FROM app", "perm");
      const revokedAt = Date.now();
      await sendPayments(redis, 500);
      const revoked = await finishedWithin(consumer, 10_000);
      assert.ok(!revoked.timedOut, `the consumer did not stop:\n${revoked.output}`);
      assert.equal(revoked.code, 2, revoked.output);
      assert.ok(Date.now() - revokedAt < 10_000);
      assert.match(
        revoked.output.trim().split("\n").at(-1)!,
        /^consume: PostgreSQL ledger at postgres:\/\/app:\*\*\*@\S+ refused: permission denied: permission denied for table payments: fix POSTGRES_DSN \(rows wait in Redis\)$/,
      );
      assert.ok(!revoked.output.includes("r#ght"), revoked.output);
      // What was processed since waits in Redis for the next writer.
      assert.equal(await backlog(redis), (await count(redis)) - 500);

      // Later: the database is dropped under a running consumer.
      const doomed = await migrated(pg, "doomed");
      await doomed.sql.end();
      const victim = spawnConsumer(server.url, {
        name: "victim",
        env: { POSTGRES_DSN: doomed.dsn, REDIS_STREAM: "other_payments" },
      });
      await sendPayments(redis, 200, { stream: "other_payments" });
      const victimSql = connectPostgres(doomed.dsn, { max: 1 });
      try {
        await waitFor(
          "the victim's rows",
          async () => (await ledgerTotals(victimSql)).done === 200,
        );
      } finally {
        await victimSql.end();
      }
      await pg.psql("DROP DATABASE doomed WITH (FORCE)");
      const droppedAt = Date.now();
      await sendPayments(redis, 200, { stream: "other_payments" });
      const dropped = await finishedWithin(victim, 10_000);
      assert.ok(!dropped.timedOut, `the consumer did not stop:\n${dropped.output}`);
      assert.equal(dropped.code, 2, dropped.output);
      assert.ok(Date.now() - droppedAt < 10_000);
      assert.match(
        dropped.output.trim().split("\n").at(-1)!,
        /^consume: PostgreSQL ledger at \S+\/doomed refused: the database does not exist: database "doomed" does not exist/,
      );
    } finally {
      redis.disconnect();
    }
  },
);

Deno.test(
  "a TLS certificate that does not verify ends the consumer and migrate in one line",
  INTEGRATION,
  async () => {
    // A private server with TLS on and a self-signed certificate.
    const dir = await Deno.makeTempDir({ prefix: "fastpix-tls-" });
    const [key, crt] = [`${dir}/server.key`, `${dir}/server.crt`];
    const openssl = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        crt,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
      ],
      stdout: "null",
      stderr: "null",
    }).output(); // deno-fmt-ignore
    assert.ok(openssl.success, "openssl could not make a certificate");
    await Deno.chmod(key, 0o600);
    await Deno.chmod(dir, 0o755);
    if (Deno.uid() === 0) {
      await new Deno.Command("chown", { args: ["postgres:postgres", key, crt] }).output();
    }
    await using server = await startRedis();
    await using pg = await PostgresServer.start({
      settings: { ssl: "on", ssl_cert_file: crt, ssl_key_file: key },
    });
    try {
      const dsn = `${await pg.createDatabase("tls")}?sslmode=verify-full`;
      const consumer = await finishedWithin(
        spawnConsumer(server.url, { name: "tls", env: { POSTGRES_DSN: dsn } }),
        10_000,
      );
      assert.ok(!consumer.timedOut, `the consumer did not stop:\n${consumer.output}`);
      assert.equal(consumer.code, 2, consumer.output);
      assert.match(
        consumer.output.trim().split("\n").at(-1)!,
        /^consume: PostgreSQL at \S+\/tls\?sslmode=verify-full refused: the TLS certificate was rejected: self-signed certificate: fix POSTGRES_DSN$/,
      );
      const migrateRun = await finishedWithin(
        new ChildTool("consumer/migrate_command.ts", { env: { POSTGRES_DSN: dsn } }),
        10_000,
      );
      assert.equal(migrateRun.code, 2, migrateRun.output);
      assert.match(
        migrateRun.output,
        /^migrate: PostgreSQL at \S+ refused: the TLS certificate was rejected/,
      );
      // The same server with TLS required but not verified is fine.
      const ok = await finishedWithin(
        new ChildTool("consumer/migrate_command.ts", {
          env: { POSTGRES_DSN: dsn.replace("verify-full", "require") },
        }),
        20_000,
      );
      assert.equal(ok.code, 0, ok.output);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
