import assert from "node:assert/strict";
import { dlqKey, sourceListKey, sourceListPrefixes } from "./keys.ts";

Deno.test("sourceListKey: <base>_<i>, or the whole name in braces with a hash tag", () => {
  assert.equal(sourceListKey(0), "source_list_0");
  assert.equal(sourceListKey(3, { base: "payments", hashtag: false }), "payments_3");
  assert.equal(sourceListKey(0, { base: "source_list", hashtag: true }), "{source_list_0}");
  assert.equal(sourceListKey(12, { base: "payments", hashtag: true }), "{payments_12}");
  // The dead-letter stream shares the queue's hash tag, so its slot.
  assert.equal(dlqKey(sourceListKey(0, { base: "payments", hashtag: true })), "{payments_0}:dlq");
});

Deno.test("sourceListPrefixes: both shapes of a base", () => {
  assert.deepEqual(sourceListPrefixes(), ["source_list_", "{source_list_"]);
  assert.deepEqual(sourceListPrefixes("payments"), ["payments_", "{payments_"]);
  for (const hashtag of [false, true]) {
    const key = sourceListKey(7, { base: "payments", hashtag });
    assert.ok(sourceListPrefixes("payments").some((p) => key.startsWith(p)), key);
  }
});
