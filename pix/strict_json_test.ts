import assert from "node:assert/strict";
import fc from "fast-check";
import {
  amountRejection,
  ErrorCode,
  JsonNumber,
  parseStrictJson,
  type StrictJsonValue,
} from "./mod.ts";

/** The value `JSON.parse` would give, numbers read from their source text. */
function plain(value: StrictJsonValue): unknown {
  if (value instanceof JsonNumber) return Number(value.source);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: plain(value[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

Deno.test("parseStrictJson reads what JSON.parse reads (without repeated keys)", () => {
  fc.assert(
    fc.property(fc.json(), (text) => {
      const r = parseStrictJson(text);
      assert.ok(r.ok, text);
      assert.deepEqual(plain(r.value), JSON.parse(text));
    }),
    { numRuns: 500 },
  );
  for (
    const text of [
      '{"a":"\\u00e9\\n\\"\\/x"}',
      " [1 , -0.5e+3,true,false,null, {} ,[]] ",
      '"\\ud83d\\ude00"',
    ]
  ) {
    const r = parseStrictJson(text);
    assert.ok(r.ok, text);
    assert.deepEqual(plain(r.value), JSON.parse(text));
  }
}); // deno-fmt-ignore

Deno.test("parseStrictJson refuses what JSON.parse refuses, as syntax, never throwing", () => {
  const bad = ["", "{", "}", '{"a"}', '{"a":}', '{"a":1,}', "[1,]", "01", "1.", ".5", "+1", "-", "1e", "NaN",
    "'x'", '"a\nb"', '"\\x"', '"\\u12"', "tru", "nul", "{}{}", '{"a":1} x', "\u00a01", '{a:1}'];
  for (const text of bad) {
    assert.throws(() => JSON.parse(text), SyntaxError, text);
    const r = parseStrictJson(text);
    assert.ok(!r.ok && r.problem === "syntax", text);
    assert.ok(!r.message.includes("\n") && r.message.length > 10, r.message);
  }
  fc.assert(fc.property(fc.string(), (text) => {
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    const r = parseStrictJson(text);
    assert.equal(r.ok || r.problem === "duplicate_key", parses, text);
  }), { numRuns: 2000 });
  const deep = "[".repeat(10_000) + "]".repeat(10_000);
  const r = parseStrictJson(deep);
  assert.ok(!r.ok && r.problem === "syntax" && /nested/.test(r.message));
}); // deno-fmt-ignore

Deno.test("parseStrictJson refuses a key given twice in any object, naming it", () => {
  for (const text of [
    '{"amount":"1.00","amount":"999999.00"}',
    '{"amount":1,"x":2,"amount":1}',
    '{"a":{"b":1,"b":2}}',
    '[{"k":1},{"k":1,"k":1}]',
    '{"__proto__":1,"__proto__":2}',
    '{"\\u0061":1,"a":2}',
  ]) {
    const r = parseStrictJson(text);
    assert.ok(!r.ok, text);
    assert.equal(r.problem, "duplicate_key", text);
    assert.match(r.message, /appears twice/);
  }
  const r = parseStrictJson('{"amount":"1.00","amount":"999999.00"}');
  assert.ok(!r.ok && r.message.includes('"amount"'));
  // The same key in sibling objects is no repeat.
  assert.ok(parseStrictJson('[{"k":1},{"k":1}]').ok);
});

Deno.test("parseStrictJson keeps number source text and __proto__ as a plain key", () => {
  const r = parseStrictJson(
    '{"amount": 19.999999999999999, "b": 19.90, "c": 1e2, "__proto__": 20}',
  );
  assert.ok(r.ok);
  const o = r.value as Record<string, JsonNumber>;
  assert.equal(o.amount.source, "19.999999999999999");
  assert.equal(o.b.source, "19.90");
  assert.equal(o.c.source, "1e2");
  assert.deepEqual(Object.keys(o), ["amount", "b", "c", "__proto__"]);
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
});

Deno.test("amountRejection: the same amount rules as validation, on the exact text", () => {
  for (const ok of ["19.9", "19.90", "20", "0.01", "999999999999.99"]) {
    assert.equal(amountRejection(ok), undefined, ok);
  }
  const cases: [string, number][] = [
    ["19.999999999999999", ErrorCode.AMOUNT_FORMAT],
    ["19.999", ErrorCode.AMOUNT_FORMAT],
    ["1e2", ErrorCode.AMOUNT_FORMAT],
    ["0.30000000000000004", ErrorCode.AMOUNT_FORMAT],
    ["1000000000000", ErrorCode.AMOUNT_FORMAT],
    ["0", ErrorCode.AMOUNT_NOT_POSITIVE],
    ["0.00", ErrorCode.AMOUNT_NOT_POSITIVE],
    ["-5", ErrorCode.AMOUNT_NOT_POSITIVE],
    ["-0.001", ErrorCode.AMOUNT_NOT_POSITIVE],
    ["007.50", ErrorCode.AMOUNT_LEADING_ZEROS],
  ];
  for (const [text, code] of cases) assert.equal(amountRejection(text)?.code, code, text);
});
