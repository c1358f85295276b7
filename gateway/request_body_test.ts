import assert from "node:assert/strict";
import { DEFAULT_LIMITS, ErrorCode } from "@fastpix/pix";
import { isJsonContentType, parsePaymentJson, readPaymentRequest } from "./request_body.ts";

const fieldsOf = (text: string) => {
  const r = parsePaymentJson(text);
  if (!r.ok) throw new Error(r.rejection.message);
  return r.fields;
};

Deno.test("JSON number amounts keep their exact decimal text, two places", () => {
  assert.equal(fieldsOf('{"amount": 19.9}').amount, "19.90");
  assert.equal(fieldsOf('{"amount": 20}').amount, "20.00");
  assert.equal(fieldsOf('{"amount": 0.05}').amount, "0.05");
  assert.equal(fieldsOf('{"amount": 1234567.89}').amount, "1234567.89");
  // Not plain decimals with at most 2 places: passed on as written, for validation to refuse.
  assert.equal(fieldsOf('{"amount": 0.30000000000000004}').amount, "0.30000000000000004");
  assert.equal(fieldsOf('{"amount": 19.999}').amount, "19.999");
  assert.equal(fieldsOf('{"amount": 1e2}').amount, "1e2");
  assert.equal(fieldsOf('{"amount": -5}').amount, "-5");
});

Deno.test("string amounts and other numeric fields pass through as text", () => {
  const f = fieldsOf('{"amount": "12.3", "transaction_id": 123456, "backend_id": 2}');
  assert.equal(f.amount, "12.3");
  assert.equal(f.transaction_id, "123456");
  assert.equal(f.backend_id, "2");
});

Deno.test("a field named __proto__ stays a plain field", () => {
  const f = fieldsOf('{"__proto__": "x", "amount": "1.00"}');
  assert.deepEqual(Object.keys(f), ["__proto__", "amount"]);
  assert.equal(Object.getPrototypeOf(f), Object.prototype);
});

Deno.test("bodies that are not an object of strings and numbers are refused with a code", () => {
  const codeOf = (text: string) => {
    const r = parsePaymentJson(text);
    assert.equal(r.ok, false);
    return r.ok ? 0 : r.rejection.code;
  };
  assert.equal(codeOf("{"), ErrorCode.REQUEST_JSON_INVALID);
  assert.equal(codeOf(""), ErrorCode.REQUEST_JSON_INVALID);
  assert.equal(codeOf("[1]"), ErrorCode.REQUEST_NOT_AN_OBJECT);
  assert.equal(codeOf("null"), ErrorCode.REQUEST_NOT_AN_OBJECT);
  assert.equal(codeOf('"x"'), ErrorCode.REQUEST_NOT_AN_OBJECT);
  assert.equal(codeOf('{"amount": {"v": 1}}'), ErrorCode.REQUEST_FIELD_TYPE);
  assert.equal(codeOf('{"amount": null}'), ErrorCode.REQUEST_FIELD_TYPE);
  assert.equal(codeOf('{"ok": true}'), ErrorCode.REQUEST_FIELD_TYPE);
  assert.equal(codeOf('{"list": []}'), ErrorCode.REQUEST_FIELD_TYPE);
});

Deno.test("content types: JSON and +json, with parameters", () => {
  assert.ok(isJsonContentType("application/json"));
  assert.ok(isJsonContentType("Application/JSON; charset=utf-8"));
  assert.ok(isJsonContentType("application/vnd.pix+json"));
  assert.ok(!isJsonContentType(null));
  assert.ok(!isJsonContentType("text/plain"));
  assert.ok(!isJsonContentType("application/x-www-form-urlencoded"));
});

const post = (body: BodyInit, headers: Record<string, string>) =>
  new Request("http://localhost/pix/payments", { method: "POST", body, headers });
const options = { maxBodyBytes: 100, limits: DEFAULT_LIMITS };

Deno.test("missing transaction_id and timestamp are filled in; the rest is validated", async () => {
  const r = await readPaymentRequest(
    post('{"backend_id": "7", "amount": 5}', { "content-type": "application/json" }),
    options,
  );
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.match(r.payment.transaction_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
  assert.ok(Math.abs(Date.parse(r.payment.timestamp) - Date.now()) < 5000);
  assert.equal(r.payment.amount, "5.00");
  const bad = await readPaymentRequest(
    post('{"backend_id": "7", "amount": "5,00"}', { "content-type": "application/json" }),
    options,
  );
  assert.deepEqual(bad.ok ? undefined : [bad.rejection.status, bad.rejection.code], [
    400,
    ErrorCode.AMOUNT_FORMAT,
  ]);
});

Deno.test("bodies over the cap are refused with 413, declared or streamed", async () => {
  const big = JSON.stringify({ backend_id: "1", amount: "1.00", description: "x".repeat(200) });
  const declared = await readPaymentRequest(
    post(big, { "content-type": "application/json" }),
    options,
  );
  assert.equal(declared.ok ? 0 : declared.rejection.status, 413);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < 10; i++) {
        c.enqueue(new TextEncoder().encode(big.slice(i * 25, i * 25 + 25)));
      }
      c.close();
    },
  });
  const streamed = await readPaymentRequest(
    post(stream, { "content-type": "application/json" }),
    options,
  );
  assert.equal(streamed.ok ? 0 : streamed.rejection.status, 413);
});
