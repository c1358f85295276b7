import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "@fastpix/pix";
import { buildBatch, type RawEntry } from "../stream_consumer.ts";
import { batchRows, type OutboxRow } from "./outbox.ts";
import { parseOutbox } from "./ledger_writer.ts";
import { encodeBatch } from "./write_rows.ts";

const ctx = {
  stream: "pix_payments",
  group: "g",
  consumerName: "c",
  responsePrefix: "r_",
  maxDeliveries: 5,
  responseMaxlen: 100,
  markTtlSeconds: 60,
  limits: DEFAULT_LIMITS,
};

Deno.test("batchRows reads every entry's outcome out of a real process_batch layout", () => {
  const ts = new Date().toISOString();
  const entries: RawEntry[] = [
    ["1-0", ["transaction_id", "tx-1", "backend_id", "7", "amount", "12.3", "timestamp", ts]],
    ["1-1", ["transaction_id", "tx-2", "backend_id", "7", "amount", "-1", "timestamp", ts]],
    ["1-2", ["backend_id", "x y", "amount", "5", "timestamp", ts]],
    ["1-3", null],
    ["1-4", ["transaction_id", "tx-4", "backend_id", "8", "amount", "4.00", "timestamp", ts]],
  ];
  const deliveries = new Map([["1-0", 2], ["1-4", 6]]);
  const batch = buildBatch(entries, { ...ctx, deliveries });
  assert.deepEqual(batchRows(batch, { deliveries }), [
    ["1-0", "tx-1", "7", "12.30", "done", null, null, 2],
    ["1-1", "tx-2", "7", null, "error", 1203, 'Amount "-1" must be greater than zero', 1],
    ["1-2", null, null, "5.00", "error", 1001, "Field transaction_id is missing", 1],
    ["1-4", "tx-4", "8", "4.00", "error", 2001, "Delivered 6 times; the limit is 5", 6],
  ]);
});

Deno.test("parseOutbox accepts outbox entries and refuses anything else", () => {
  const batch = { id: "b", stream: "s", consumer: "c", appliedMs: 5, processingMs: 2, rows: [] };
  const encoded = encodeBatch(batch);
  assert.deepEqual(encoded, {
    rows: 0,
    payments: "",
    untracked: "",
    metrics: '["b","c","s",0,0,0,2,0,0,5]',
  });
  const flat = ["rows", "0", "payments", "", "untracked", "", "metrics", encoded.metrics];
  assert.deepEqual(parseOutbox(flat), encoded);
  assert.equal(parseOutbox(["rows", "x", ...flat.slice(2)]), undefined);
  assert.equal(parseOutbox(["rows", "1", "payments", "{", ...flat.slice(4)]), undefined);
  assert.equal(parseOutbox(["rows", "1", "payments", "", "metrics", "[]"]), undefined);
});

Deno.test("encodeBatch writes rows as JSON, whatever the message holds", () => {
  const rows: OutboxRow[] = [
    ["10-0", "tx-1", "7", "1.00", "done", null, null, 1],
    ["10-1", null, null, null, "error", 1001, 'Field "transaction_id" \\ missing', 2],
  ];
  const b = { id: "b", stream: 's"q', consumer: "c\\", appliedMs: 30, processingMs: 2, rows };
  const e = encodeBatch(b);
  assert.deepEqual(JSON.parse(`[${e.payments}]`), [
    ["tx-1", "7", "1.00", "done", null, null, 's"q', "10-0", "c\\", 1, 2, 20, 10, 30],
  ]);
  assert.deepEqual(JSON.parse(`[${e.untracked}]`), [
    [
      null,
      null,
      null,
      "error",
      1001,
      'Field "transaction_id" \\ missing',
      's"q',
      "10-1",
      "c\\",
      2,
      2,
      20,
      10,
      30,
    ],
  ]);
  assert.deepEqual(JSON.parse(e.metrics), ["b", "c\\", 's"q', 2, 1, 1, 2, 20, 20, 30]);
});
