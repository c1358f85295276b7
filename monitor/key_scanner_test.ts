import assert from "node:assert/strict";
import { globEscape, KeyScanner } from "./key_scanner.ts";
import { SnapshotState } from "./snapshot.ts";

const patterns = [
  { prefix: "backend_bacen_response_", kind: "response" as const },
  { prefix: "source_list_", kind: "source_list" as const },
];

Deno.test("keys found over several SCAN steps are kept, sorted naturally, by kind", () => {
  const scanner = new KeyScanner(patterns, { count: 100, type: "stream" });
  assert.deepEqual(scanner.args(), ["0", "COUNT", "100", "TYPE", "stream"]);
  scanner.apply(["17", ["backend_bacen_response_10", "pix:done:x", "source_list_0"]]);
  assert.equal(scanner.args()[0], "17");
  assert.equal(scanner.complete, false);
  scanner.apply(["0", ["backend_bacen_response_2", "processed_count"]]);
  assert.equal(scanner.complete, true);
  assert.deepEqual(scanner.keys("response"), [
    "backend_bacen_response_2",
    "backend_bacen_response_10",
  ]);
  assert.deepEqual(scanner.keys("source_list"), ["source_list_0"]);
});

Deno.test("a key missing from a whole pass is dropped; forget drops at once", () => {
  const scanner = new KeyScanner(patterns);
  scanner.apply(["0", ["backend_bacen_response_1", "backend_bacen_response_2"]]);
  scanner.apply(["5", ["backend_bacen_response_3"]]);
  // Mid-pass, keys not seen yet in this pass stay known.
  assert.equal(scanner.keys("response").length, 3);
  scanner.apply(["0", ["backend_bacen_response_2"]]);
  assert.deepEqual(scanner.keys("response"), [
    "backend_bacen_response_2",
    "backend_bacen_response_3",
  ]);
  scanner.forget("backend_bacen_response_3");
  assert.deepEqual(scanner.keys("response"), ["backend_bacen_response_2"]);
  assert.equal(scanner.passes, 2);
});

Deno.test("MATCH carries the prefix with its glob characters escaped", () => {
  const scanner = new KeyScanner([{ prefix: "resp[*]?_", kind: "response" }], { match: true });
  assert.deepEqual(scanner.args(), ["0", "COUNT", "1000", "MATCH", "resp\\[\\*\\]\\?_*"]);
  assert.equal(globEscape("a\\b"), "a\\\\b");
});

Deno.test("the monitor finds a base's queues in both shapes, processing lists too", () => {
  const byDefault = new SnapshotState("backend_bacen_response_").lists;
  byDefault.apply(["0", [
    "source_list_0",
    "{source_list_1}",
    "payments_0",
    "pix:list_processing:w1",
  ]]);
  assert.deepEqual(byDefault.keys("source_list"), ["{source_list_1}", "source_list_0"]);
  assert.deepEqual(byDefault.keys("processing_list"), ["pix:list_processing:w1"]);
  const custom = new SnapshotState("backend_bacen_response_", 100, { listBase: "payments" }).lists;
  custom.apply(["0", ["source_list_0", "{payments_0}", "payments_1"]]);
  assert.deepEqual(custom.keys("source_list"), ["{payments_0}", "payments_1"]);
});
