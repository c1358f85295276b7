import assert from "node:assert/strict";
import { bindDesign, designLists, type DesignTarget } from "./registry.ts";

const target: DesignTarget = { stream: "pix_payments", group: "pix_consumers" };

Deno.test("designLists: source_list_<i> by default, else the target's naming; lists win", () => {
  assert.deepEqual(designLists(target), ["source_list_0"]);
  assert.deepEqual(designLists({ ...target, numLists: 2 }), ["source_list_0", "source_list_1"]);
  const named = { ...target, numLists: 2, listNaming: { base: "payments", hashtag: true } };
  assert.deepEqual(designLists(named), ["{payments_0}", "{payments_1}"]);
  assert.deepEqual(designLists({ ...named, lists: ["other"] }), ["other"]);
});

Deno.test("the list designs' consumers are told the target's naming", () => {
  const named = { ...target, listNaming: { base: "payments", hashtag: true } };
  for (const design of ["list", "list-reliable"] as const) {
    assert.deepEqual(bindDesign(design, target).consumer.args, []);
    assert.deepEqual(bindDesign(design, named).consumer.args, [
      "--redis-list",
      "payments",
      "--use-hashtag",
      "true",
    ]);
  }
});
