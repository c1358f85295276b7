import assert from "node:assert/strict";
import { DEFAULT_LIMITS, DONE_MARK_PREFIX, ErrorCode, paymentFingerprint } from "@fastpix/pix";
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

Deno.test("buildListBatch lays out keys and 8 values per payload", () => {
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
  const fields = { ...good } as Record<string, string>;
  const payment = { amountCents: 1990, backendId: "2", fields };
  assert.deepEqual(batch.args.slice(7, 15), [
    "ok",
    ok,
    good.transaction_id,
    "2",
    1,
    1990,
    "19.90",
    paymentFingerprint(payment),
  ]); // deno-fmt-ignore
  assert.deepEqual(batch.args.slice(15, 20), ["reject", "{oops", "", "", 0]);
  assert.equal(batch.args[20], ErrorCode.PAYLOAD_MALFORMED);
  assert.equal(batch.args[22], "");
  // A bad backend_id cannot name a confirmation stream: dead letter only.
  assert.deepEqual(batch.args.slice(23, 28), ["reject", badBackend, good.transaction_id, "", 0]);
  assert.equal(batch.args[28], ErrorCode.BACKEND_ID_INVALID);
  assert.equal(batch.args.length, 7 + 3 * 8);
});

Deno.test("plain mode points KEYS[5] at the source; good payloads are in ARGV for their dead letter", () => {
  const payload = toListPayload(good);
  const batch = buildListBatch([payload], { ...ctx, mode: "plain" });
  assert.equal(batch.keys[4], "source_list_0");
  // Popped: if the script dead-letters it (a conflict, its own key of the wrong type), the dead
  // letter is the only copy left.
  assert.equal(batch.args[8], payload);
});

Deno.test("a payload without backend_id refers to no confirmation stream (position 0)", () => {
  const py = JSON.stringify({
    transaction_id: "txn_1769860740123_7",
    amount: 722.28,
    timestamp: "2026-01-31T11:59:00.123456",
  });
  const batch = buildListBatch([py, toListPayload(good)], ctx);
  assert.deepEqual(batch.args.slice(7, 15), [
    "ok",
    py,
    "txn_1769860740123_7",
    "",
    0,
    72228,
    "722.28",
    paymentFingerprint({ amountCents: 72228, backendId: "", fields: {} }),
  ]);
  assert.deepEqual(batch.args.slice(15, 20), [
    "ok",
    toListPayload(good),
    good.transaction_id,
    "2",
    1,
  ]);
  assert.deepEqual(batch.keys.slice(5), ["backend_bacen_response_2"]);
});
