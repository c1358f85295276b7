import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_LIMITS,
  ErrorCode,
  fieldsToRecord,
  parseTimestamp,
  validateEntry,
  validatePayment,
} from "./validation.ts";

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const good = {
  transaction_id: "0193a1b2-aaaa-7bbb-8ccc-0123456789ab",
  backend_id: "3",
  amount: "12.3",
  timestamp: "2026-11-21T10:00:00.123456",
};

function codeOf(fields: Record<string, string>): number | undefined {
  const r = validatePayment(fields, { nowMs: NOW });
  return r.ok ? undefined : r.rejection.code;
}

Deno.test("a payment in the Python original's format is valid", () => {
  const r = validatePayment(good, { nowMs: NOW });
  assert.ok(r.ok);
  assert.equal(r.payment.amountCents, 1230);
  assert.equal(codeOf({ ...good, amount: "5.0", timestamp: "2026-11-21 10:00:00" }), undefined);
  assert.equal(
    codeOf({ ...good, transaction_id: "123456", timestamp: "2026-11-21T10:00:00Z" }),
    undefined,
  );
  assert.equal(codeOf({ ...good, timestamp: "2026-11-21T10:00:00.1-03:00" }), undefined);
});

Deno.test("backendIdOptional accepts a message without backend_id, and only then", () => {
  const { backend_id: _, ...noBackend } = good;
  const plain = validatePayment(noBackend, { nowMs: NOW });
  assert.ok(!plain.ok && plain.rejection.code === ErrorCode.BACKEND_ID_MISSING);
  const r = validatePayment(noBackend, { nowMs: NOW, backendIdOptional: true });
  assert.ok(r.ok);
  assert.equal(r.payment.backendId, "");
  assert.equal(r.payment.amountCents, 1230);
  // With the field, it is checked as always.
  const named = validatePayment(good, { nowMs: NOW, backendIdOptional: true });
  assert.ok(named.ok && named.payment.backendId === "3");
  for (const [backend_id, code] of [["", 1101], ["x}:{y", 1102]] as const) {
    const bad = validatePayment({ ...good, backend_id }, { nowMs: NOW, backendIdOptional: true });
    assert.ok(!bad.ok && bad.rejection.code === code, backend_id);
  }
  const empty = validatePayment({ ...good, backend_id: "" }, {
    nowMs: NOW,
    backendIdOptional: true,
  });
  assert.ok(!empty.ok);
  assert.equal(
    empty.rejection.message,
    "Field backend_id is empty: name a backend or leave the field out",
  );
});

Deno.test("each rule rejects with its own code", () => {
  const cases: Array<[Record<string, string>, number]> = [
    [{ ...good, transaction_id: "" }, ErrorCode.TRANSACTION_ID_MISSING],
    [{ ...good, transaction_id: "a b" }, ErrorCode.TRANSACTION_ID_INVALID],
    [{ ...good, backend_id: "" }, ErrorCode.BACKEND_ID_MISSING],
    [{ ...good, backend_id: "x}:{y" }, ErrorCode.BACKEND_ID_INVALID],
    [{ ...good, backend_id: "a".repeat(65) }, ErrorCode.BACKEND_ID_INVALID],
    [{ ...good, amount: "" }, ErrorCode.AMOUNT_MISSING],
    [{ ...good, amount: "12,5" }, ErrorCode.AMOUNT_FORMAT],
    [{ ...good, amount: "abc" }, ErrorCode.AMOUNT_FORMAT],
    [{ ...good, amount: "1.234" }, ErrorCode.AMOUNT_FORMAT],
    [{ ...good, amount: "-5" }, ErrorCode.AMOUNT_NOT_POSITIVE],
    [{ ...good, amount: "0.00" }, ErrorCode.AMOUNT_NOT_POSITIVE],
    [{ ...good, amount: "1000000.01" }, ErrorCode.AMOUNT_ABOVE_MAX],
    [{ ...good, timestamp: "" }, ErrorCode.TIMESTAMP_MISSING],
    [{ ...good, timestamp: "yesterday" }, ErrorCode.TIMESTAMP_INVALID],
    [{ ...good, timestamp: "2026-02-30T00:00:00" }, ErrorCode.TIMESTAMP_INVALID],
    [{ ...good, timestamp: "2027-01-01T00:00:00Z" }, ErrorCode.TIMESTAMP_IN_FUTURE],
    [{ ...good, description: "x".repeat(5000) }, ErrorCode.FIELD_TOO_LARGE],
  ];
  for (const [fields, code] of cases) {
    assert.equal(codeOf(fields), code, JSON.stringify(fields).slice(0, 80));
  }
  const many: Record<string, string> = { ...good };
  for (let i = 0; i < 40; i++) many[`extra_${i}`] = "x";
  assert.equal(codeOf(many), ErrorCode.TOO_MANY_FIELDS);
  const { amount: _drop, ...noAmount } = good;
  assert.equal(codeOf(noAmount), ErrorCode.AMOUNT_MISSING);
});

Deno.test("optional PIX keys and payer name: valid examples pass, each invalid one has its code", () => {
  const valid: Record<string, string>[] = [
    { payer_key: "52998224725", payee_key: "11.222.333/0001-81", payer_name: "Ana" },
    { payer_key: "fulano@example.com.br", payee_key: "+5511987654321" },
    { payer_key: "123e4567-e89b-42d3-a456-426614174000", payee_key: "12ABC34501DE35" },
    { payer_name: "Jo" },
  ];
  for (const extra of valid) assert.equal(codeOf({ ...good, ...extra }), undefined);
  const cases: Array<[Record<string, string>, number]> = [
    [{ payer_key: "hello" }, ErrorCode.PAYER_KEY_UNKNOWN_TYPE],
    [{ payer_key: "52998224724" }, ErrorCode.PAYER_KEY_CPF],
    [{ payer_key: "11222333000182" }, ErrorCode.PAYER_KEY_CNPJ],
    [{ payer_key: "fulano@localhost" }, ErrorCode.PAYER_KEY_EMAIL],
    [{ payer_key: "+5520987654321" }, ErrorCode.PAYER_KEY_PHONE],
    [{ payer_key: "123e4567-e89b-42d3-a456-42661417400" }, ErrorCode.PAYER_KEY_EVP],
    [{ payee_key: "" }, ErrorCode.PAYEE_KEY_UNKNOWN_TYPE],
    [{ payee_key: "529.982.247-52" }, ErrorCode.PAYEE_KEY_CPF],
    [{ payee_key: "12.ABC.345/01DE-36" }, ErrorCode.PAYEE_KEY_CNPJ],
    [{ payee_key: "a@b" }, ErrorCode.PAYEE_KEY_EMAIL],
    [{ payee_key: "+55119876543" }, ErrorCode.PAYEE_KEY_PHONE],
    [{ payee_key: "123e4567-e89b-42d3-a4564-26614174000" }, ErrorCode.PAYEE_KEY_EVP],
    [{ payer_name: " J " }, ErrorCode.PAYER_NAME_TOO_SHORT],
    [{ payer_name: "" }, ErrorCode.PAYER_NAME_TOO_SHORT],
  ];
  for (const [extra, code] of cases) {
    const r = validatePayment({ ...good, ...extra }, { nowMs: NOW });
    assert.ok(!r.ok, JSON.stringify(extra));
    assert.equal(r.rejection.code, code, JSON.stringify(extra));
    assert.match(r.rejection.message, /^(Cannot accept (payer|payee)_key|Payer name) /);
    // Keys and names are personal data: no message quotes them, nor any part of them.
    for (const value of Object.values(extra).filter((v) => v.trim().length > 1)) {
      assert.ok(!r.rejection.message.includes(value.trim()), r.rejection.message);
    }
    assert.doesNotMatch(
      r.rejection.message,
      /digits are|expected \d|area code \d/,
      "no part of a key",
    );
  }
  // The limit is configurable.
  const strict = { ...DEFAULT_LIMITS, minPayerNameLength: 5 };
  const r = validatePayment({ ...good, payer_name: "Ana" }, { nowMs: NOW, limits: strict });
  assert.ok(!r.ok && r.rejection.code === ErrorCode.PAYER_NAME_TOO_SHORT);
});

Deno.test("parseTimestamp honours zones", () => {
  assert.equal(parseTimestamp("2026-01-01T00:00:00Z"), Date.UTC(2026, 0, 1));
  assert.equal(parseTimestamp("2026-01-01T00:00:00-03:00"), Date.UTC(2026, 0, 1, 3));
  assert.equal(
    parseTimestamp("2026-01-01T00:00:00.999999+0130"),
    Date.UTC(2025, 11, 31, 22, 30, 0, 999),
  );
});

Deno.test("fieldsToRecord keeps __proto__ as a plain field", () => {
  const r = fieldsToRecord(["__proto__", "x", "amount", "1"]);
  assert.equal(Object.getOwnPropertyDescriptor(r, "__proto__")?.value, "x");
  assert.equal(Object.getPrototypeOf(r), Object.prototype);
  assert.deepEqual(Object.keys(r), ["__proto__", "amount"]);
});

Deno.test("property: any string map validates without throwing, to ok or a known code", () => {
  const codes = new Set<number>(Object.values(ErrorCode));
  const field = fc.oneof(
    fc.string(),
    fc.constantFrom("transaction_id", "backend_id", "amount", "timestamp", "__proto__"),
  );
  fc.assert(fc.property(fc.array(fc.tuple(field, fc.string({ maxLength: 80 }))), (pairs) => {
    const r = validatePayment(fieldsToRecord(pairs.flat()), { nowMs: NOW });
    if (!r.ok) assert.ok(codes.has(r.rejection.code));
    else assert.ok(Number.isInteger(r.payment.amountCents) && r.payment.amountCents > 0);
  }));
});

Deno.test("property: well-formed payments are accepted with exact cents", () => {
  const seen = [0, 0, 0]; // amounts written with 0, 1 and 2 decimal places
  fc.assert(fc.property(
    fc.uuid(),
    fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    // Whole reais are common in practice and rare among random cents: draw them on purpose.
    fc.oneof(
      fc.integer({ min: 1, max: 100_000_000 }),
      fc.integer({ min: 1, max: 1_000_000 }).map((r) => r * 100),
    ),
    fc.integer({ min: 0, max: 2 }),
    (tx, backend, cents, places) => {
      const whole = Math.floor(cents / 100);
      const frac = String(cents % 100).padStart(2, "0");
      // The shortest form asked for when it is exact: "12", "12.5", else "12.50".
      const amount = places === 0 && frac === "00"
        ? String(whole)
        : places <= 1 && frac[1] === "0"
        ? `${whole}.${frac[0]}`
        : `${whole}.${frac}`;
      seen[amount.split(".")[1]?.length ?? 0]++;
      const r = validatePayment({
        transaction_id: tx,
        backend_id: backend,
        amount,
        timestamp: "2026-11-21T10:00:00",
      }, { nowMs: NOW });
      assert.ok(r.ok, amount);
      assert.equal(r.payment.amountCents, cents);
    },
  ));
  // Every shape was tried, whole numbers ("12") included.
  assert.ok(seen.every((n) => n > 0), `0/1/2 decimal places generated ${seen.join("/")} times`);
});

Deno.test("amounts with superfluous leading zeros are refused; Python's formatting stays valid", () => {
  const refused: Array<[string, string]> = [
    ["00.01", "0.01"],
    ["007.50", "7.50"],
    ["01", "1"],
    ["0012.3", "12.3"],
    ["000000000001.00", "1.00"],
  ];
  for (const [amount, written] of refused) {
    const r = validatePayment({ ...good, amount }, { nowMs: NOW });
    assert.ok(!r.ok, amount);
    assert.equal(r.rejection.code, ErrorCode.AMOUNT_LEADING_ZEROS, amount);
    assert.equal(r.rejection.message, `Amount "${amount}" has leading zeros: write "${written}"`);
  }
  const cents: Array<[string, number]> = [
    ["0.01", 1],
    ["0.5", 50],
    ["12.3", 1230],
    ["5.0", 500],
    ["19.90", 1990],
    ["12", 1200],
    ["100", 10000],
  ];
  for (const [amount, expected] of cents) {
    const r = validatePayment({ ...good, amount }, { nowMs: NOW });
    assert.ok(r.ok, amount);
    assert.equal(r.payment.amountCents, expected, amount);
  }
  // Zero stays "not positive" however it is written.
  assert.equal(codeOf({ ...good, amount: "00.00" }), ErrorCode.AMOUNT_NOT_POSITIVE);
});

Deno.test("timestamps before the window (default 2000-01-01T00:00:00Z) are refused as too old", () => {
  for (
    const timestamp of ["0000-01-01T00:00:00", "1970-01-01T00:00:00Z", "1999-12-31T23:59:59.999Z"]
  ) {
    const r = validatePayment({ ...good, timestamp }, { nowMs: NOW });
    assert.ok(!r.ok, timestamp);
    assert.equal(r.rejection.code, ErrorCode.TIMESTAMP_TOO_OLD, timestamp);
    assert.equal(
      r.rejection.message,
      `Timestamp "${timestamp}" is before 2000-01-01T00:00:00.000Z, the earliest accepted`,
    );
  }
  for (
    const timestamp of ["2000-01-01T00:00:00Z", "2000-01-01T00:00:00", "2000-01-01T02:00:00+02:00"]
  ) {
    assert.equal(codeOf({ ...good, timestamp }), undefined, timestamp);
  }
  // 01:59 at +02:00 is 23:59 UTC the day before.
  assert.equal(
    codeOf({ ...good, timestamp: "2000-01-01T01:59:00+02:00" }),
    ErrorCode.TIMESTAMP_TOO_OLD,
  );
  // The limits move the window both ways.
  const since1960 = { ...DEFAULT_LIMITS, minTimestampMs: Date.UTC(1960, 0, 1) };
  const old = { ...good, timestamp: "1970-01-01T00:00:00Z" };
  assert.ok(validatePayment(old, { nowMs: NOW, limits: since1960 }).ok);
  const noSkew = { ...DEFAULT_LIMITS, maxFutureSkewMs: 0 };
  const soon = { ...good, timestamp: "2026-11-21T12:00:01Z" };
  assert.equal(codeOf(soon), undefined);
  const r = validatePayment(soon, { nowMs: NOW, limits: noSkew });
  assert.ok(!r.ok && r.rejection.code === ErrorCode.TIMESTAMP_IN_FUTURE);
});

Deno.test("years 0000-0099 are read as written, not as 1900-1999", () => {
  assert.equal(parseTimestamp("0050-06-01T00:00:00Z"), new Date("0050-06-01T00:00:00Z").getTime());
  assert.equal(parseTimestamp("0000-02-29T12:00:00"), new Date("0000-02-29T12:00:00Z").getTime());
  assert.equal(parseTimestamp("0001-02-29T00:00:00"), undefined);
  const since1950 = { ...DEFAULT_LIMITS, minTimestampMs: Date.UTC(1950, 0, 1) };
  const r = validatePayment({ ...good, timestamp: "0050-06-01T00:00:00Z" }, {
    nowMs: NOW,
    limits: since1950,
  });
  assert.ok(!r.ok && r.rejection.code === ErrorCode.TIMESTAMP_TOO_OLD);
});

Deno.test("zone offsets beyond ±14:00 or with minutes over 59 are refused with their own code", () => {
  for (const zone of ["+99:99", "+14:01", "-14:01", "+15:00", "+05:60", "+0099", "-2400"]) {
    const timestamp = `2026-11-21T10:00:00${zone}`;
    assert.equal(parseTimestamp(timestamp), undefined, zone);
    const r = validatePayment({ ...good, timestamp }, { nowMs: NOW });
    assert.ok(!r.ok, zone);
    assert.equal(r.rejection.code, ErrorCode.TIMESTAMP_OFFSET_INVALID, zone);
    assert.match(r.rejection.message, /zone offset must be from -14:00 to \+14:00/);
  }
  for (const zone of ["+14:00", "-14:00", "-03:00", "+05:45", "+0530", "-00:00", "Z"]) {
    assert.equal(codeOf({ ...good, timestamp: `2026-11-21T10:00:00${zone}` }), undefined, zone);
  }
  assert.equal(parseTimestamp("2026-01-01T00:00:00+14:00"), Date.UTC(2025, 11, 31, 10));
});

Deno.test("validateEntry refuses a field repeated in one stream entry, before any other rule", () => {
  const flat = Object.entries(good).flat();
  const repeats: Array<[string[], string]> = [
    [
      [...flat, "amount", "999999.00"],
      'Field "amount" appears 2 times ("12.3", "999999.00"): send each field once',
    ],
    [["amount", "1.00", ...flat], 'Field "amount" appears 2 times ("1.00", "12.3")'],
    [[...flat, "payer_key", "a@b.co", "payer_key", "a@b.co"], 'Field "payer_key" appears 2 times'],
    [
      [...flat, "x", "1", "x", "2", "x", "3", "x", "4"],
      'Field "x" appears 4 times ("1", "2", "3", …)',
    ],
    [["__proto__", "a", ...flat, "__proto__", "b"], 'Field "__proto__" appears 2 times'],
    // Repeated and invalid otherwise too: the repeat is what is reported.
    [["amount", "abc", "amount", "abc"], 'Field "amount" appears 2 times'],
  ];
  for (const [entry, message] of repeats) {
    const r = validateEntry(entry, { nowMs: NOW });
    assert.ok(!r.ok, entry.join(" "));
    assert.equal(r.rejection.code, ErrorCode.FIELD_REPEATED, entry.join(" "));
    assert.ok(r.rejection.message.startsWith(message), r.rejection.message);
  }
  // Without repeats it is validatePayment on the entry's record, and hands the record back.
  const ok = validateEntry([...flat, "payer_name", "Ana"], { nowMs: NOW });
  assert.ok(ok.ok);
  assert.equal(ok.payment.amountCents, 1230);
  assert.deepEqual(ok.fields, { ...good, payer_name: "Ana" });
  const bad = validateEntry(["amount", "1", "timestamp", "x", "odd"], { nowMs: NOW });
  assert.ok(!bad.ok && bad.rejection.code === ErrorCode.TRANSACTION_ID_MISSING);
  assert.deepEqual(bad.fields, { amount: "1", timestamp: "x" });
});
