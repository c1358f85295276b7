/**
 * Secrets never reach the output: `migrate`, `stats` and `consume` run as child processes with
 * passwords holding `#`, `/`, `?`, `@` and `%` (as pasted, and percent-encoded) in POSTGRES_DSN and
 * REDIS_URL, pointed at closed ports, an unresolvable host, or given URLs that do not parse; and a
 * consumer whose Redis and PostgreSQL passwords hold the same characters really works.
 */
import assert from "node:assert/strict";
import { freePort } from "@fastpix/testing";
import { connectPostgres, migrate } from "@fastpix/consumer";
import {
  ChildTool,
  client,
  INTEGRATION,
  sendPayments,
  spawnConsumer,
  startPostgres,
  startRedis,
  waitFor,
} from "./_helpers.ts";
import { backlog, finishedWithin, ledgerTotals } from "./_pg_helpers.ts";

/** Every password starts with this, which encoding leaves alone: it must never be printed. */
const MARK = "S3cr";
const PASSWORDS = [`${MARK}#t/p?ss@w%rd`, `${MARK}%23t%2Fp%3Fss%40w%25rd`, `${MARK}@:/?#[]%zz`];

function assertNoSecret(output: string, what: string) {
  assert.ok(!output.includes(MARK), `${what} printed a password:\n${output}`);
}

async function run(script: string, env: Record<string, string>) {
  const result = await finishedWithin(
    new ChildTool(script, { env: { LOG_LEVEL: "info", POSTGRES_DSN: "", ...env } }),
    20_000,
  );
  assert.ok(!result.timedOut, `${script} hung:\n${result.output}`);
  return result;
}

Deno.test(
  "migrate and stats never print a DSN's password: closed port, unresolvable host, a DSN that does not parse",
  INTEGRATION,
  async () => {
    const closed = freePort();
    for (const password of PASSWORDS) {
      for (const script of ["consumer/migrate_command.ts", "consumer/stats_command.ts"]) {
        const name = script.includes("migrate") ? "migrate" : "stats";
        const refused = await run(script, {
          POSTGRES_DSN: `postgres://app:${password}@127.0.0.1:${closed}/ledger`,
        });
        assertNoSecret(refused.output, name);
        assert.equal(refused.code, 2, refused.output);
        assert.equal(
          refused.output.trim(),
          `${name}: Cannot reach PostgreSQL at postgres://app:***@127.0.0.1:${closed}/ledger ` +
            `(connect ECONNREFUSED 127.0.0.1:${closed}): start it or fix POSTGRES_DSN`,
        );
        const unresolvable = await run(script, {
          POSTGRES_DSN: `postgresql://app:${password}@db.fastpix.invalid/ledger`,
        });
        assertNoSecret(unresolvable.output, name);
        assert.equal(unresolvable.code, 2, unresolvable.output);
        assert.match(
          unresolvable.output.trim(),
          new RegExp(
            `^${name}: PostgreSQL at postgresql://app:\\*\\*\\*@db\\.fastpix\\.invalid/ledger refused: the host name does not resolve: `,
          ),
        );
        const bad = await run(script, {
          POSTGRES_DSN: `postgres://app:${password}@127.0.0.1:99999/ledger`,
        });
        assertNoSecret(bad.output, name);
        assert.equal(bad.code, 2, bad.output);
        assert.equal(
          bad.output.trim(),
          `${name}: Cannot use postgres://app:***@127.0.0.1:99999/ledger: ` +
            "expected a PostgreSQL URL such as postgres://user:password@localhost:5432/fastpix",
        );
      }
    }
    // Given as a flag rather than an env var, and as a key=value DSN.
    const kv = await new ChildTool("consumer/migrate_command.ts", {
      args: ["--postgres-dsn", `host=db password=${PASSWORDS[0]} dbname=ledger`],
      env: { POSTGRES_DSN: "" },
    }).finished();
    assertNoSecret(kv.output, "migrate");
    assert.equal(kv.code, 2, kv.output);
    assert.match(kv.output, /^migrate: Cannot use host=db password=\*\*\* dbname=ledger: expected/);
  },
);

Deno.test(
  "consume never prints a password of REDIS_URL or POSTGRES_DSN, whatever is down",
  INTEGRATION,
  async () => {
    const [redisPort, pgPort] = [freePort(), freePort()];
    for (const password of PASSWORDS) {
      // Nothing answers: both outages are logged, with the passwords hidden (WAIT_FOR_REDIS: a
      // consumer that cannot reach Redis at the start otherwise stops at once, in one line).
      const consumer = new ChildTool("consumer/consume_command.ts", {
        env: {
          LOG_LEVEL: "info",
          WAIT_FOR_REDIS: "true",
          REDIS_URL: `redis://default:${password}@127.0.0.1:${redisPort}/0`,
          POSTGRES_DSN: `postgres://app:${password}@127.0.0.1:${pgPort}/ledger`,
          POSTGRES_CONNECT_TIMEOUT_MS: "1000",
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 4000));
      consumer.kill("SIGTERM");
      const down = await finishedWithin(consumer, 15_000);
      assertNoSecret(down.output, "consume");
      assert.match(
        down.output,
        /PostgreSQL ledger unavailable at postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/ledger/,
      );
      assert.match(
        down.output,
        /Redis unavailable at redis:\/\/default:\*\*\*@127\.0\.0\.1:\d+\/0/,
      );

      // URLs that do not parse, and a PostgreSQL host that does not resolve: one line each.
      const badRedis = await run("consumer/consume_command.ts", {
        REDIS_URL: `redis://:${password}@127.0.0.1:port`,
      });
      assertNoSecret(badRedis.output, "consume");
      assert.equal(badRedis.code, 2, badRedis.output);
      assert.equal(
        badRedis.output.trim(),
        "consume: Cannot use redis://:***@127.0.0.1:port: expected a Redis URL such as " +
          "redis://localhost:6379 or rediss://:password@host:6380/0",
      );
      const unresolvable = await run("consumer/consume_command.ts", {
        REDIS_URL: `redis://:${password}@127.0.0.1:${redisPort}`,
        POSTGRES_DSN: `postgres://app:${password}@db.fastpix.invalid:5432/ledger`,
      });
      assertNoSecret(unresolvable.output, "consume");
      assert.equal(unresolvable.code, 2, unresolvable.output);
      assert.match(
        unresolvable.output.trim().split("\n").at(-1)!,
        /^consume: PostgreSQL at postgres:\/\/app:\*\*\*@db\.fastpix\.invalid:5432\/ledger refused: the host name does not resolve/,
      );
    }
  },
);

Deno.test(
  "a consumer whose Redis and PostgreSQL passwords hold # / ? @ % works, and prints neither",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const password = PASSWORDS[0];
    const setup = connectPostgres(await pg.createDatabase("secret"), { max: 1 });
    await migrate(setup);
    await setup.end();
    // From now on the superuser logs in over TCP with that password (scram-sha-256).
    await pg.psql(`ALTER ROLE fastpix PASSWORD '${password}'`);
    const hba = `${pg.dir}/data/pg_hba.conf`;
    const rules = await Deno.readTextFile(hba);
    await Deno.writeTextFile(hba, `host all fastpix 127.0.0.1/32 scram-sha-256\n${rules}`);
    await pg.psql("SELECT pg_reload_conf()");
    const encoded = encodeURIComponent(password);
    const sql = connectPostgres(`postgres://fastpix:${encoded}@127.0.0.1:${pg.port}/secret`, {
      max: 1,
    });
    const redis = client(server.url);
    try {
      await redis.config("SET", "requirepass", password);
      await redis.auth(password);
      const port = server.port;
      const consumer = spawnConsumer(`redis://:${password}@127.0.0.1:${port}`, {
        name: "secretive",
        env: { POSTGRES_DSN: `postgres://fastpix:${password}@127.0.0.1:${pg.port}/secret` },
      });
      await sendPayments(redis, 1000);
      await waitFor(
        "the payments in the ledger",
        async () => (await backlog(redis)) === 0 && (await ledgerTotals(sql)).done === 1000,
        30_000,
      );
      consumer.kill("SIGTERM");
      const { code, output } = await finishedWithin(consumer, 15_000);
      assert.equal(code, 0, output);
      assertNoSecret(output, "consume");
      assert.match(
        output,
        /on redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ .*ledger postgres:\/\/fastpix:\*\*\*@/,
      );
    } finally {
      redis.disconnect();
      await sql.end();
    }
  },
);
