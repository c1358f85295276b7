import assert from "node:assert/strict";
import { DEFAULT_LIMITS, DONE_MARK_PREFIX, ErrorCode } from "@fastpix/pix";
import { makePayment } from "@fastpix/simulators";
import { toListPayload } from "./payload.ts";
import { buildListBatch, type ListBatchContext } from "./list_batch.ts";

const NOW = Date.parse("2026-01-31T12:00:00Z");
const good = makePayment({ backendId: "2", amountCents: 1990, nowMs: NOW - 60_000 });

const ctx: ListBatchContext = {
  mode: "reliable",
  source: "source_list_0",
  processingKey: "pix:list_processing:c1",
  consumerName: "c1",
  responsePrefix: "backend_bacen_response_",
  responseMaxlen: 100,
  markTtlSeconds: 60,
  limits: DEFAULT_LIMITS,
  nowMs: NOW,
};

Deno.test("buildListBatch lays out keys and 7 values per payload", () => {
  const ok = toListPayload(good);
  const badBackend = JSON.stringify({ ...good, backend_id: "a b" });
  const batch = buildListBatch([ok, "{oops", badBackend], ctx);
  assert.deepEqual(batch.keys, [
    "source_list_0:dlq",
    "processed_count",
    "total_amount",
    "total_amount_cents",
    "pix:list_processing:c1",
    "backend_bacen_response_2",
  ]);
  assert.deepEqual(batch.args.slice(0, 7), [
    "reliable",
    DONE_MARK_PREFIX,
    60,
    100,
    "2026-01-31T12:00:00.000Z",
    "c1",
    "source_list_0",
  ]); // deno-fmt-ignore
  assert.deepEqual(batch.args.slice(7, 14), ["ok", ok, good.transaction_id, "2", 1, 1990, "19.90"]);
  assert.deepEqual(batch.args.slice(14, 19), ["reject", "{oops", "", "", 0]);
  assert.equal(batch.args[19], ErrorCode.PAYLOAD_MALFORMED);
  // A bad backend_id cannot name a confirmation stream: dead letter only.
  assert.deepEqual(batch.args.slice(21, 26), ["reject", badBackend, good.transaction_id, "", 0]);
  assert.equal(batch.args[26], ErrorCode.BACKEND_ID_INVALID);
  assert.equal(batch.args.length, 7 + 3 * 7);
});

Deno.test("plain mode points KEYS[5] at the source and leaves good payloads out of ARGV", () => {
  const batch = buildListBatch([toListPayload(good)], { ...ctx, mode: "plain" });
  assert.equal(batch.keys[4], "source_list_0");
  assert.equal(batch.args[8], "");
});

Deno.test("a payload without backend_id refers to no confirmation stream (position 0)", () => {
  const py = JSON.stringify({
    transaction_id: "txn_1769860740123_7",
    amount: 722.28,
    timestamp: "2026-01-31T11:59:00.123456",
  });
  const batch = buildListBatch([py, toListPayload(good)], ctx);
  assert.deepEqual(batch.args.slice(7, 14), [
    "ok",
    py,
    "txn_1769860740123_7",
    "",
    0,
    72228,
    "722.28",
  ]);
  assert.deepEqual(batch.args.slice(14, 19), [
    "ok",
    toListPayload(good),
    good.transaction_id,
    "2",
    1,
  ]);
  assert.deepEqual(batch.keys.slice(5), ["backend_bacen_response_2"]);
});
