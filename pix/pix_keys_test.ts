import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkPixKey,
  cnpjCheckDigits,
  cpfCheckDigits,
  isValidCnpj,
  isValidCpf,
  pixKeyType,
} from "./pix_keys.ts";

/**
 * An independent oracle written from the Receita Federal's description: sum of value × weight,
 * weights counting down from `top` and wrapping from 2 back to 9 (CNPJ) or not at all (CPF).
 */
function oracleDigit(values: number[], cnpj: boolean): number {
  let sum = 0;
  let weight = 2;
  for (let i = values.length - 1; i >= 0; i--) {
    sum += values[i] * weight;
    weight = cnpj && weight === 9 ? 2 : weight + 1;
  }
  return sum % 11 < 2 ? 0 : 11 - (sum % 11);
}

function oracle(base: string, cnpj: boolean): string {
  const values = [...base].map((c) => c.charCodeAt(0) - 48);
  const first = oracleDigit(values, cnpj);
  return `${first}${oracleDigit([...values, first], cnpj)}`;
}

const digits = (n: number) => fc.stringMatching(new RegExp(`^\\d{${n}}$`));
const cnpjBase = fc.stringMatching(/^[0-9A-Z]{12}$/);
const maskCpf = (d: string) => `${d.slice(0, 3)}.${d.slice(3, 6)}.${d.slice(6, 9)}-${d.slice(9)}`;
const maskCnpj = (c: string) =>
  `${c.slice(0, 2)}.${c.slice(2, 5)}.${c.slice(5, 8)}/${c.slice(8, 12)}-${c.slice(12)}`;
const repeated = (s: string) => new Set(s).size === 1;

Deno.test("known documents: published examples pass, their neighbours fail", () => {
  assert.equal(cpfCheckDigits("529982247"), "25");
  assert.ok(isValidCpf("52998224725") && isValidCpf("529.982.247-25"));
  assert.ok(!isValidCpf("52998224724") && !isValidCpf("529.982.247-52"));
  assert.equal(cnpjCheckDigits("112223330001"), "81");
  assert.ok(isValidCnpj("11222333000181") && isValidCnpj("11.222.333/0001-81"));
  assert.ok(!isValidCnpj("11222333000182"));
  // The Receita Federal's example of the alphanumeric CNPJ (in use from July 2026).
  assert.equal(cnpjCheckDigits("12ABC34501DE"), "35");
  assert.ok(isValidCnpj("12.ABC.345/01DE-35"));
  assert.ok(!isValidCpf("11111111111") && !isValidCnpj("00000000000000"));
  assert.ok(!isValidCpf("5299822472") && !isValidCnpj("1122233300018"));
});

Deno.test("property: CPF check digits agree with an independent oracle", () => {
  fc.assert(fc.property(digits(9), (base) => {
    assert.equal(cpfCheckDigits(base), oracle(base, false));
  }));
});

Deno.test("property: CNPJ check digits agree with an independent oracle (numeric and alphanumeric)", () => {
  fc.assert(fc.property(fc.oneof(digits(12), cnpjBase), (base) => {
    assert.equal(cnpjCheckDigits(base), oracle(base, true));
  }));
});

Deno.test("property: a CPF is valid exactly with its own check digits, masked or not", () => {
  fc.assert(fc.property(digits(9), digits(2), (base, dv) => {
    const cpf = base + dv;
    const expected = dv === cpfCheckDigits(base) && !repeated(cpf);
    assert.equal(isValidCpf(cpf), expected, cpf);
    assert.equal(isValidCpf(maskCpf(cpf)), expected, maskCpf(cpf));
  }));
});

Deno.test("property: a CNPJ is valid exactly with its own check digits, masked or not", () => {
  fc.assert(fc.property(fc.oneof(digits(12), cnpjBase), digits(2), (base, dv) => {
    const cnpj = base + dv;
    const expected = dv === cnpjCheckDigits(base) && !repeated(cnpj);
    assert.equal(isValidCnpj(cnpj), expected, cnpj);
    assert.equal(isValidCnpj(maskCnpj(cnpj)), expected, maskCnpj(cnpj));
  }));
});

Deno.test("property: changing one check digit of a valid CPF or CNPJ always invalidates it", () => {
  fc.assert(fc.property(
    digits(9),
    cnpjBase,
    fc.integer({ min: 0, max: 1 }),
    fc.integer({ min: 1, max: 9 }),
    (cpfBase, cnpjB, which, delta) => {
      const bump = (doc: string, at: number) =>
        doc.slice(0, at) + String((Number(doc[at]) + delta) % 10) + doc.slice(at + 1);
      const cpf = cpfBase + cpfCheckDigits(cpfBase);
      const cnpj = cnpjB + cnpjCheckDigits(cnpjB);
      assert.ok(isValidCpf(cpf) || repeated(cpf), cpf);
      assert.ok(isValidCnpj(cnpj) || repeated(cnpj), cnpj);
      assert.ok(!isValidCpf(bump(cpf, 9 + which)));
      assert.ok(!isValidCnpj(bump(cnpj, 12 + which)));
    },
  ));
});

Deno.test("key types are told by shape, and each type's rules apply", () => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ["52998224725", "cpf", true],
    ["529.982.247-25", "cpf", true],
    ["52998224700", "cpf", false],
    ["11222333000181", "cnpj", true],
    ["12ABC34501DE35", "cnpj", true],
    ["12ABC34501DE36", "cnpj", false],
    ["fulano@example.com.br", "email", true],
    ["Fulano.Silva+pix@banco.io", "email", true],
    ["fulano@localhost", "email", false],
    ["a..b@example.com", "email", false],
    [`${"a".repeat(70)}@example.com`, "email", false],
    ["+5511987654321", "phone", true],
    ["+5561999990000", "phone", true],
    ["+5520987654321", "phone", false], // area code 20 does not exist
    ["+551187654321", "phone", false], // 8 digits: not a mobile number
    ["+14155550123", "phone", false],
    ["123e4567-e89b-42d3-a456-426614174000", "evp", true],
    ["123E4567-E89B-42D3-A456-426614174000", "evp", true],
    ["123e4567-e89b-42d3-a456-42661417400", "evp", false],
    ["123e4567e89b42d3a456426614174000-", "evp", false],
    ["11987654321x", undefined, false],
    ["1198765432", undefined, false],
    ["", undefined, false],
  ];
  for (const [key, type, ok] of cases) {
    assert.equal(pixKeyType(key), type, key);
    const check = checkPixKey(key);
    assert.equal(check.type, type, key);
    assert.equal(check.problem === undefined, ok, `${key}: ${check.problem}`);
  }
});

Deno.test("property: generated phones with a real area code are valid", () => {
  const ddd = fc.constantFrom("11", "21", "31", "41", "51", "61", "71", "81", "91", "99");
  fc.assert(fc.property(ddd, digits(8), (area, rest) => {
    assert.equal(checkPixKey(`+55${area}9${rest}`).problem, undefined);
  }));
});

Deno.test("property: any string gets a verdict without throwing", () => {
  fc.assert(fc.property(fc.string({ maxLength: 100 }), (key) => {
    const check = checkPixKey(key);
    if (check.type === undefined) assert.ok(check.problem !== undefined);
  }));
});
