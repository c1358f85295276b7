import assert from "node:assert/strict";
import fc from "fast-check";
import { centsFromJsonNumber, parseInstantBound, parseInstantRange } from "./wire.ts";

Deno.test("centsFromJsonNumber: exact cents from any number with at most 2 decimals", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 10 ** 12 }), (cents) => {
    const value = JSON.parse(`${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`);
    return centsFromJsonNumber(value) === cents;
  }));
  for (const bad of [0, -1, 0.001, 19.999, NaN, Infinity, 1e21, "19.90", null, undefined]) {
    assert.equal(centsFromJsonNumber(bad), undefined, String(bad));
  }
});

Deno.test("parseInstantBound: millisecond bounds, sub-millisecond digits rounded inward", () => {
  const ms = Date.parse("2025-07-15T12:34:56.789Z");
  assert.equal(parseInstantBound("2025-07-15T12:34:56.789Z", "from"), ms);
  assert.equal(parseInstantBound("2025-07-15T12:34:56.789Z", "to"), ms);
  assert.equal(parseInstantBound("2025-07-15T12:34:56.7891Z", "from"), ms + 1);
  assert.equal(parseInstantBound("2025-07-15T12:34:56.7891Z", "to"), ms);
  assert.equal(parseInstantBound("2025-07-15T12:34:56.789000Z", "from"), ms);
  assert.equal(parseInstantBound("2025-07-15T09:34:56.789-03:00", "to"), ms);
  assert.equal(parseInstantBound("yesterday", "to"), undefined);
});

Deno.test("parseInstantRange: both optional, a bad one named", () => {
  const all = parseInstantRange(new URLSearchParams(""));
  assert.ok(typeof all !== "string" && all.fromMs < 0 && all.toMs > Date.now());
  const bad = parseInstantRange(new URLSearchParams("from=2025-07-15T00:00:00Z&to=soon"));
  assert.equal(typeof bad, "string");
  assert.match(bad as string, /^Cannot parse to="soon"/);
});
