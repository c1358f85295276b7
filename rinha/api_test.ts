import assert from "node:assert/strict";
import { parsePaymentRequest, summaryJson } from "./api.ts";

const id = "4A7901B8-7D26-4D9D-AA19-4DC1C7CF60B3";

Deno.test("parsePaymentRequest: a valid body gives the lower-cased id and exact cents", () => {
  assert.deepEqual(parsePaymentRequest(`{"correlationId":"${id}","amount":19.90}`), {
    ok: true,
    correlationId: id.toLowerCase(),
    cents: 1990,
  });
  const r = parsePaymentRequest(`{"correlationId":"${id}","amount":0.1,"extra":1}`);
  assert.ok(r.ok && r.cents === 10);
});

Deno.test("parsePaymentRequest: every bad body says why, with 400 or 422", () => {
  const bad: [string, number, RegExp][] = [
    ["{", 400, /JSON/],
    ['"text"', 400, /object/],
    ['{"amount":1}', 422, /correlationId is missing/],
    ['{"correlationId":"abc","amount":1}', 422, /UUID/],
    [`{"correlationId":"${id}"}`, 422, /amount is missing/],
    [`{"correlationId":"${id}","amount":1.001}`, 422, /2 decimals/],
    [`{"correlationId":"${id}","amount":0}`, 422, /above zero/],
    [`{"correlationId":"${id}","amount":null}`, 422, /amount/],
  ];
  for (const [body, status, why] of bad) {
    const r = parsePaymentRequest(body);
    assert.ok(!r.ok, body);
    assert.equal(r.status, status, body);
    assert.match(r.error, why);
  }
});

Deno.test("summaryJson: amounts with exactly two decimals", () => {
  const text = summaryJson({
    default: { count: 2, cents: 3980 },
    fallback: { count: 0, cents: 0 },
  });
  assert.equal(
    text,
    '{"default":{"totalRequests":2,"totalAmount":39.80},"fallback":{"totalRequests":0,"totalAmount":0.00}}',
  );
  assert.deepEqual(JSON.parse(text).default, { totalRequests: 2, totalAmount: 39.8 });
});
