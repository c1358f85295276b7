import assert from "node:assert/strict";
import {
  BATCH_HEADER,
  batchEntries,
  type BatchEntry,
  batchHeader,
  encodeBatchArgs,
  ENTRY_STRIDE,
  processBatchScript,
  ResponseStreams,
} from "./batch_args.ts";

const header = {
  group: "g",
  markPrefix: "pix:done:",
  markTtlSeconds: 60,
  responseMaxlen: 100,
  timestamp: "2026-01-31T12:00:00.000Z",
  consumerName: "c1",
};

const entries: BatchEntry[] = [
  {
    kind: "ok",
    id: "1-0",
    tx: "tx-1",
    backend: "7",
    responseIndex: 1,
    cents: 1230,
    amount: "12.30",
    fingerprint: "AbCd-_12",
    deliveries: 2,
  },
  {
    kind: "reject",
    id: "1-1",
    tx: "",
    backend: "",
    responseIndex: 0,
    deliveries: 6,
    errorCode: 2001,
    reason: "too many",
    fieldsJson: '{"a":"b"}',
  },
  { kind: "gone", id: "1-2" },
]; // deno-fmt-ignore

Deno.test("encodeBatchArgs lays out the header, then 9 values per entry, as process_batch reads", () => {
  const args = encodeBatchArgs(header, entries);
  assert.deepEqual(args, [
    "g", "pix:done:", 60, 100, "2026-01-31T12:00:00.000Z", "c1",
    "ok", "1-0", "tx-1", "7", 1, 1230, "12.30", "AbCd-_12", 2,
    "reject", "1-1", "", "", 0, 6, 2001, "too many", '{"a":"b"}',
    "gone", "1-2", "", "", 0, "", "", "", "",
  ]); // deno-fmt-ignore
  assert.equal(args.length, BATCH_HEADER.length + entries.length * ENTRY_STRIDE);
  // The script's header says the same.
  assert.match(processBatchScript.source, new RegExp(`ARGV\\[${BATCH_HEADER.length + 1}\\+\\] entries, ${ENTRY_STRIDE} values each`));
}); // deno-fmt-ignore

Deno.test("batchHeader and batchEntries read back what encodeBatchArgs wrote", () => {
  const args = encodeBatchArgs(header, entries);
  assert.deepEqual(batchHeader(args), header);
  assert.deepEqual([...batchEntries(args)], entries);
  // Values arrive as strings too (as Redis would see them).
  assert.deepEqual([...batchEntries(args.map(String))], entries);
});

Deno.test("batchEntries refuses what is not a process_batch ARGV", () => {
  const args = encodeBatchArgs(header, entries);
  assert.throws(() => [...batchEntries(args.slice(0, -1))], /not header \+ entries/);
  const odd = [...args];
  odd[BATCH_HEADER.length] = "maybe";
  assert.throws(() => [...batchEntries(odd)], /ARGV\[7\]: unknown entry kind maybe/);
});

Deno.test("ResponseStreams numbers each backend's stream once, from 1", () => {
  const responses = new ResponseStreams((backend) => `resp_${backend}`);
  assert.deepEqual(["2", "1", "2", "3"].map((b) => responses.positionOf(b)), [1, 2, 1, 3]);
  assert.deepEqual(responses.keys, ["resp_2", "resp_1", "resp_3"]);
});
