import assert from "node:assert/strict";
import { UserError } from "@fastpix/pix";
import { ApiKeyCheck, apiKeysFromEnv, parseApiKeys } from "./api_keys.ts";

const A = "a-key-of-sixteen-chars";
const B = "another-long-enough-key";

Deno.test("parseApiKeys: comma-separated, trimmed, empty parts dropped", () => {
  assert.deepEqual(parseApiKeys(` ${A} ,, ${B},`), [A, B]);
  assert.deepEqual(parseApiKeys(""), []);
  assert.deepEqual(parseApiKeys(undefined), []);
});

Deno.test("parseApiKeys: short or unprintable keys are refused, naming the source", () => {
  assert.throws(() => parseApiKeys(`${A},short`, "DASHBOARD_API_KEYS"), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^DASHBOARD_API_KEYS: key 2 has 5 characters; at least 16$/);
    return true;
  });
  assert.throws(() => parseApiKeys("has space inside the key"), /printable ASCII/);
  assert.throws(() => parseApiKeys("ключ-ключ-ключ-ключ"), /printable ASCII/);
});

Deno.test("apiKeysFromEnv: the first variable set wins", () => {
  const names = ["FASTPIX_TEST_KEYS_1", "FASTPIX_TEST_KEYS_2"];
  try {
    assert.deepEqual(apiKeysFromEnv(names), { keys: [] });
    Deno.env.set(names[1], B);
    assert.deepEqual(apiKeysFromEnv(names), { keys: [B], source: names[1] });
    Deno.env.set(names[0], ` ${A} `);
    assert.deepEqual(apiKeysFromEnv(names), { keys: [A], source: names[0] });
    Deno.env.set(names[0], "  ");
    assert.deepEqual(apiKeysFromEnv(names), { keys: [B], source: names[1] });
  } finally {
    for (const name of names) Deno.env.delete(name);
  }
});

Deno.test("ApiKeyCheck: only exact keys match", () => {
  const check = new ApiKeyCheck([A, B]);
  assert.equal(check.enabled, true);
  assert.equal(check.matches(A), true);
  assert.equal(check.matches(B), true);
  for (const wrong of [A.slice(0, -1), `${A}x`, A.toUpperCase(), "", null, undefined]) {
    assert.equal(check.matches(wrong), false, String(wrong));
  }
  const none = new ApiKeyCheck([]);
  assert.equal(none.enabled, false);
  assert.equal(none.matches(A), false);
});
