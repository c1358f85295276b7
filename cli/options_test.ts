import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { DEFAULT_LIMITS, UserError } from "@fastpix/pix";
import {
  encodeUserinfo,
  listNaming,
  maxAmountOption,
  parseInstant,
  parsePostgresDsn,
  parseRedisUrl,
  redisListOption,
  timestampMaxSkewOption,
  timestampMinOption,
  useHashtagOption,
  validationLimits,
} from "./options.ts";

Deno.test("parseInstant reads an ISO date (midnight UTC) or timestamp; anything else is refused", () => {
  assert.equal(parseInstant("1960-01-01"), Date.UTC(1960, 0, 1));
  assert.equal(parseInstant(" 2000-01-01T00:00:00Z "), Date.UTC(2000, 0, 1));
  assert.equal(parseInstant("2000-01-01T00:00:00-03:00"), Date.UTC(2000, 0, 1, 3));
  for (const bad of ["", "yesterday", "1999-02-30", "2000-01-01T00:00:00+99:99", "2000"]) {
    assert.throws(() => parseInstant(bad), /Expected an ISO 8601 date or timestamp/, bad);
  }
});

/** Runs `run` with the env vars `names` unset but for those in `env`; restores them after. */
function withEnv<T>(names: string[], env: Record<string, string>, run: () => T): T {
  const saved = names.map((name) => Deno.env.get(name));
  names.forEach((name) => Deno.env.delete(name));
  try {
    for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
    return run();
  } finally {
    names.forEach((name, i) =>
      saved[i] === undefined ? Deno.env.delete(name) : Deno.env.set(name, saved[i]!)
    );
  }
}

/** Parses `args` with the three limit flags, `env` set for the parse only. */
function limitsFrom(args: string[], env: Record<string, string> = {}) {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} })
    .addOption(maxAmountOption()).addOption(timestampMinOption())
    .addOption(timestampMaxSkewOption());
  const names = ["PIX_MAX_AMOUNT", "TIMESTAMP_MIN", "TIMESTAMP_MAX_SKEW_MS"];
  return withEnv(names, env, () => validationLimits(program.parse(args, { from: "user" }).opts()));
}

Deno.test("the timestamp window: flag beats env var beats default; bad values name the option", () => {
  assert.deepEqual(limitsFrom([]), DEFAULT_LIMITS);
  assert.equal(limitsFrom([]).minTimestampMs, Date.UTC(2000, 0, 1));
  const env = { TIMESTAMP_MIN: "1960-01-01", TIMESTAMP_MAX_SKEW_MS: "60000" };
  const fromEnv = limitsFrom([], env);
  assert.equal(fromEnv.minTimestampMs, Date.UTC(1960, 0, 1));
  assert.equal(fromEnv.maxFutureSkewMs, 60_000);
  const fromFlags = limitsFrom(
    ["--timestamp-min", "1990-06-01T12:00:00Z", "--timestamp-max-skew-ms", "0"],
    env,
  );
  assert.equal(fromFlags.minTimestampMs, Date.UTC(1990, 5, 1, 12));
  assert.equal(fromFlags.maxFutureSkewMs, 0);
  assert.throws(() => limitsFrom(["--timestamp-min", "soon"]), /--timestamp-min <iso>.*'soon'/);
  assert.throws(
    () => limitsFrom([], { TIMESTAMP_MAX_SKEW_MS: "-1" }),
    /--timestamp-max-skew-ms <ms>.*from env 'TIMESTAMP_MAX_SKEW_MS'/,
  );
});

/** Parses `args` with --redis-list and --use-hashtag, `env` set for the parse only. */
function namingFrom(args: string[], env: Record<string, string> = {}) {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} })
    .addOption(redisListOption()).addOption(useHashtagOption());
  const names = ["REDIS_LIST", "USE_HASHTAG"];
  return withEnv(names, env, () => listNaming(program.parse(args, { from: "user" }).opts()));
}

Deno.test("REDIS_LIST and USE_HASHTAG: flag beats env var beats default", () => {
  assert.deepEqual(namingFrom([]), { base: "source_list", hashtag: false });
  const env = { REDIS_LIST: "payments", USE_HASHTAG: "true" };
  assert.deepEqual(namingFrom([], env), { base: "payments", hashtag: true });
  assert.deepEqual(namingFrom(["--use-hashtag"]), { base: "source_list", hashtag: true });
  assert.deepEqual(
    namingFrom(["--redis-list", "pix", "--use-hashtag", "false"], env),
    { base: "pix", hashtag: false },
  );
  assert.throws(() => namingFrom([], { USE_HASHTAG: "maybe" }), /from env 'USE_HASHTAG'/);
  assert.throws(() => namingFrom(["--redis-list", "a b"]), /--redis-list <base>/);
  // With a hash tag the whole name is the tag: braces in the base would cut it short.
  assert.throws(() => namingFrom([], { REDIS_LIST: "{pix}list", USE_HASHTAG: "1" }), /braces/);
  assert.deepEqual(namingFrom([], { REDIS_LIST: "{pix}list" }), {
    base: "{pix}list",
    hashtag: false,
  });
});

const PASSWORDS = ["p#ss", "p/ss", "p?ss", "p@ss", "p%ss", "a#b/c?d@e%f:g", "%23%2F%3F%40%25"];

Deno.test("DSNs and Redis URLs take passwords with reserved characters, encoded or not", () => {
  for (const password of PASSWORDS) {
    const decoded = /%[0-9A-F]{2}/.test(password) ? decodeURIComponent(password) : password;
    for (const pass of [password, encodeURIComponent(decoded)]) {
      const dsn = parsePostgresDsn(`postgres://fastpix:${pass}@db.example:5433/ledger`);
      const pg = new URL(dsn);
      assert.deepEqual(
        [pg.hostname, pg.port, pg.pathname, pg.username, decodeURIComponent(pg.password)],
        ["db.example", "5433", "/ledger", "fastpix", decoded],
        `${pass} -> ${dsn}`,
      );
      const redis = new URL(parseRedisUrl(`redis://:${pass}@cache.example:6380/2`));
      assert.deepEqual(
        [redis.hostname, redis.port, redis.pathname, decodeURIComponent(redis.password)],
        ["cache.example", "6380", "/2", decoded],
      );
    }
  }
  // Nothing to encode: unchanged.
  assert.equal(parseRedisUrl("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  assert.equal(encodeUserinfo("postgres://u:p%40s@h/d"), "postgres://u:p%40s@h/d");
  assert.equal(parsePostgresDsn(""), "");
});

Deno.test("a bad DSN or Redis URL is one line that never shows the password", () => {
  const bad = [
    ["postgres", "mysql://u:s3cr#t@h/db"],
    ["postgres", "u:s3cr#t@h/db"],
    ["postgres", "postgres://u:s3cr#t@h:99999/db"],
    ["postgres", "host=h password=s3cr#t dbname=d"],
    ["redis", "http://:s3cr#t@h:6379"],
    ["redis", "redis://:s3cr#t@h:port"],
  ] as const;
  for (const [kind, text] of bad) {
    const parse = kind === "postgres" ? parsePostgresDsn : parseRedisUrl;
    assert.throws(() => parse(text), (e) => {
      assert.ok(e instanceof UserError, String(e));
      assert.ok(!e.message.includes("s3cr"), e.message);
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, /^Cannot use .+: expected a (PostgreSQL|Redis) URL such as/);
      return true;
    });
  }
});
