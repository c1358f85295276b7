import assert from "node:assert/strict";
import { redactSecrets, redactUrl } from "./redact.ts";

/** Passwords with every character that breaks naive URL parsing, raw and percent-encoded. */
const NASTY = ["p#ss", "p/ss", "p?ss", "p@ss", "p%ss", "a#b/c?d@e%f:g", "%23%2F%3F%40%25"];

Deno.test("redactUrl hides userinfo passwords, whatever characters they hold", () => {
  for (const scheme of ["postgres", "postgresql", "redis", "rediss"]) {
    for (const password of NASTY) {
      for (const pass of [password, encodeURIComponent(password)]) {
        const url = `${scheme}://user:${pass}@db.example:5432/ledger?sslmode=require`;
        const redacted = redactUrl(url);
        assert.equal(redacted, `${scheme}://user:***@db.example:5432/ledger?sslmode=require`, url);
        assert.ok(!redacted.includes(pass), `${pass} left in ${redacted}`);
      }
    }
  }
  assert.equal(redactUrl("redis://:s3cret@127.0.0.1:6379/2"), "redis://:***@127.0.0.1:6379/2");
});

Deno.test("redactUrl leaves URLs without a password as they are", () => {
  for (
    const url of [
      "redis://127.0.0.1:6379",
      "redis://localhost:6379/3",
      "postgres://fastpix@127.0.0.1:5432/ledger",
      "postgres://fastpix:@127.0.0.1:5432/ledger",
      "postgres://127.0.0.1/ledger?application_name=x",
    ]
  ) assert.equal(redactUrl(url), url);
  assert.equal(redactUrl("redis://localhost:6379/"), "redis://localhost:6379");
});

Deno.test("redactUrl hides password query parameters and key=value DSNs", () => {
  assert.equal(
    redactUrl("postgres://u@h/db?sslmode=require&password=p#w/x&application_name=a"),
    "postgres://u@h/db?sslmode=require&password=***&application_name=a",
  );
  assert.equal(redactUrl("redis://h:6379?pass=top%40secret"), "redis://h:6379?pass=***");
  assert.equal(
    redactUrl("host=db port=5432 password=p#s/s?@% dbname=ledger"),
    "host=db port=5432 password=*** dbname=ledger",
  );
  assert.equal(
    redactUrl("host=db password='with space' user=u"),
    "host=db password=*** user=u",
  );
});

Deno.test("redactUrl hides what looks like user:password@ in strings that are no URL", () => {
  assert.equal(redactUrl("user:p#ss@host:5432/db"), "user:***@host:5432/db");
  assert.equal(redactUrl("postgres//user:s3cret@host"), "postgres//user:***@host");
  assert.equal(redactUrl("not a url"), "not a url");
});

Deno.test("redactSecrets redacts every URL and password= in a line, and nothing else", () => {
  const line = "Cannot reach PostgreSQL at postgres://u:p#s/s?x@y@h:1/db (connect ECONNREFUSED) " +
    "nor Redis at 'redis://:r@d%is@h:2/0', DSN host=h password=kv#1 user=u";
  const redacted = redactSecrets(line);
  assert.equal(
    redacted,
    "Cannot reach PostgreSQL at postgres://u:***@h:1/db (connect ECONNREFUSED) " +
      "nor Redis at 'redis://:***@h:2/0', DSN host=h password=*** user=u",
  );
  for (const secret of ["p#s/s?x@y", "r@d%is", "kv#1"]) assert.ok(!redacted.includes(secret));
  assert.equal(
    redactSecrets('password authentication failed for user "fastpix"'),
    'password authentication failed for user "fastpix"',
  );
});
