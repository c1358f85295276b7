import assert from "node:assert/strict";
import { ErrorCode } from "@fastpix/pix";
import { parseListPayload, toListPayload, validateListPayload } from "./payload.ts";

const NOW = Date.parse("2026-01-31T12:00:00Z");
const good = {
  transaction_id: "tx-1",
  backend_id: "2",
  amount: "19.90",
  timestamp: "2026-01-31T11:59:00Z",
};

Deno.test("a payment round-trips through its list payload", () => {
  const parsed = parseListPayload(toListPayload(good));
  assert.deepEqual(parsed.ok && { ...parsed.fields }, good);
});

Deno.test("numbers are read as the Python original sends them, strings kept as sent", () => {
  const r = validateListPayload(
    JSON.stringify({ ...good, amount: 12.3, transaction_id: 123456 }),
    { nowMs: NOW },
  );
  assert.ok(r.ok);
  assert.equal(r.payment.amount, "12.3");
  assert.equal(r.payment.amountCents, 1230);
  assert.equal(r.payment.transactionId, "123456");
});

Deno.test("the Python original's list payload (no backend_id) is a payment confirmed to nobody", () => {
  // util_pix_injector_demo.py: json.dumps of transaction_id, a float amount, datetime.now().isoformat()
  const raw =
    '{"transaction_id": "txn_1769860740123_42", "amount": 722.28, "timestamp": "2026-01-31T11:59:00.123456"}';
  const r = validateListPayload(raw, { nowMs: NOW });
  assert.ok(r.ok);
  assert.equal(r.payment.backendId, "");
  assert.equal(r.payment.amountCents, 72228);
  assert.equal(r.payment.transactionId, "txn_1769860740123_42");
  const whole = validateListPayload(
    '{"transaction_id": "txn_1769860740123_43", "amount": 10.0, "timestamp": "2026-01-31T11:59:00"}',
    { nowMs: NOW },
  );
  assert.ok(whole.ok && whole.payment.amountCents === 1000);
  // Left out is fine; present, it must name a backend.
  const empty = validateListPayload(JSON.stringify({ ...good, backend_id: "" }), { nowMs: NOW });
  assert.ok(!empty.ok && empty.rejection.code === ErrorCode.BACKEND_ID_MISSING);
});

Deno.test("payloads that are not a JSON object of strings and numbers are malformed", () => {
  for (const raw of ["{oops", "[]", "null", '"text"', JSON.stringify({ ...good, amount: null })]) {
    const r = parseListPayload(raw);
    assert.ok(!r.ok, raw);
    assert.equal(r.rejection.code, ErrorCode.PAYLOAD_MALFORMED, raw);
  }
  const field = parseListPayload(JSON.stringify({ ...good, amount: { v: 1 } }));
  assert.ok(!field.ok && field.rejection.message === 'Field "amount" must be a string or a number');
});

Deno.test("a __proto__ field stays a plain field", () => {
  const r = parseListPayload('{"__proto__": "x", "amount": "1.00"}');
  assert.ok(r.ok);
  assert.equal(Object.getPrototypeOf(r.fields), Object.prototype);
  assert.ok(Object.hasOwn(r.fields, "__proto__"));
  assert.equal(r.fields["__proto__"], "x");
  const n = parseListPayload('{"__proto__": 5, "amount": 1}');
  assert.ok(n.ok && Object.getPrototypeOf(n.fields) === Object.prototype);
  assert.deepEqual(n.ok && [n.fields["__proto__"], n.fields.amount], ["5", "1"]);
});

Deno.test("validation uses the stream consumer's rules and codes", () => {
  const r = validateListPayload(JSON.stringify({ ...good, amount: "12,5" }), { nowMs: NOW });
  assert.ok(!r.ok);
  assert.equal(r.rejection.code, ErrorCode.AMOUNT_FORMAT);
  assert.equal(r.fields?.backend_id, "2");
});
