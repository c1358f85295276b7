import assert from "node:assert/strict";
import fc from "fast-check";
import { formatCents, parseAmountCents } from "./money.ts";

Deno.test("parseAmountCents accepts Python float formatting and rejects the rest", () => {
  assert.equal(parseAmountCents("12.3"), 1230);
  assert.equal(parseAmountCents("5.0"), 500);
  assert.equal(parseAmountCents("19.90"), 1990);
  assert.equal(parseAmountCents("0.01"), 1);
  assert.equal(parseAmountCents("999999999999.99"), 99999999999999);
  for (const bad of ["", "12,5", "1.234", "-5", "1e5", " 1", "1.", ".5", "NaN", "١٢"]) {
    assert.equal(parseAmountCents(bad), undefined, bad);
  }
});

Deno.test("formatCents writes two places and handles big totals", () => {
  assert.equal(formatCents(0), "0.00");
  assert.equal(formatCents(5), "0.05");
  assert.equal(formatCents(5000771810n), "50007718.10");
  assert.equal(formatCents(-150), "-1.50");
  assert.equal(formatCents(2n ** 63n - 1n), "92233720368547758.07");
});

Deno.test("property: format then parse is the identity on cents", () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 99999999999999 }), (cents) => {
    assert.equal(parseAmountCents(formatCents(cents)), cents);
  }));
});

Deno.test("property: summing cents is exact where floats drift", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 10000000 }), { maxLength: 200 }), (list) => {
      const texts = list.map((c) => formatCents(c));
      const total = texts.reduce((sum, t) => sum + BigInt(parseAmountCents(t)!), 0n);
      assert.equal(total, list.reduce((a, b) => a + BigInt(b), 0n));
    }),
  );
});
