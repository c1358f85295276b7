import assert from "node:assert/strict";
import { UserError } from "@fastpix/pix";
import { encodeUserinfo, parsePostgresDsn, parseRedisUrl } from "./options.ts";

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
