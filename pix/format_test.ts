import assert from "node:assert/strict";
import fc from "fast-check";
import { formatCents } from "./money.ts";
import { formatBrl, formatCount, formatDecimal, formatMs, formatNumber } from "./format.ts";

Deno.test("formatCount groups thousands, exact for bigints and integer strings", () => {
  assert.equal(formatCount(21938), "21,938");
  assert.equal(formatCount(0), "0");
  assert.equal(formatCount(-0.4), "0");
  assert.equal(formatCount(999), "999");
  assert.equal(formatCount(1000), "1,000");
  assert.equal(formatCount(-1234567), "-1,234,567");
  assert.equal(formatCount(1234.5), "1,235");
  assert.equal(formatCount(2 ** 53), "9,007,199,254,740,992");
  assert.equal(formatCount(2n ** 64n), "18,446,744,073,709,551,616");
  assert.equal(formatCount("-98765432109876543210"), "-98,765,432,109,876,543,210");
  assert.equal(formatCount(NaN), "NaN");
  assert.equal(formatCount(Infinity), "Infinity");
});

Deno.test("formatBrl writes cents as reais with two places and grouped thousands", () => {
  assert.equal(formatBrl(100278734170n), "1,002,787,341.70");
  assert.equal(formatBrl(100278734170), "1,002,787,341.70");
  assert.equal(formatBrl("100278734170"), "1,002,787,341.70");
  assert.equal(formatBrl(0), "0.00");
  assert.equal(formatBrl(5), "0.05");
  assert.equal(formatBrl(-150), "-1.50");
  assert.equal(formatBrl(-5), "-0.05");
  assert.equal(formatBrl(99_999), "999.99");
  assert.equal(formatBrl(100_000), "1,000.00");
  // Beyond 2^53 cents: exact as a bigint or a string, never through a float.
  assert.equal(formatBrl(2n ** 63n - 1n), "92,233,720,368,547,758.07");
  assert.equal(formatBrl("123456789012345678901"), "1,234,567,890,123,456,789.01");
  assert.equal(formatBrl("-123456789012345678901"), "-1,234,567,890,123,456,789.01");
  assert.throws(() => formatBrl("12.50"), RangeError);
  assert.throws(() => formatBrl(12.5), RangeError);
  assert.throws(() => formatBrl(NaN), RangeError);
  assert.equal(formatBrl("-0"), "0.00");
  assert.equal(formatBrl("007"), "0.07");
});

Deno.test("formatNumber, formatDecimal and formatMs", () => {
  assert.equal(formatNumber(12345.678, 1), "12,345.7");
  assert.equal(formatNumber(1234567.891, 2), "1,234,567.89");
  assert.equal(formatNumber(-1234.5, 0), "-1,235");
  assert.equal(formatNumber(-1234.5), "-1,234.5");
  assert.equal(formatNumber(174.463), "174.463");
  assert.equal(formatNumber(-0.001, 2), "0.00");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(1e21), "1e+21");
  assert.equal(formatDecimal("50007718.10"), "50,007,718.10");
  assert.equal(formatDecimal("-1234567.00"), "-1,234,567.00");
  assert.equal(formatDecimal("999.99"), "999.99");
  assert.equal(formatDecimal("0.5"), "0.5");
  assert.equal(formatDecimal("abc"), "abc");
  assert.equal(formatMs(0.4234), "0.42");
  assert.equal(formatMs(12.46), "12.5");
  assert.equal(formatMs(340.4), "340");
  assert.equal(formatMs(1500), "1,500");
  assert.equal(formatMs(0), "0.00");
});

Deno.test("property: grouping only inserts commas, every 3 digits from the right", () => {
  fc.assert(fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (cents) => {
    const text = formatBrl(cents);
    assert.equal(text.replaceAll(",", ""), formatCents(cents));
    assert.match(text, /^-?\d{1,3}(,\d{3})*\.\d\d$/);
    assert.match(formatCount(cents), /^-?\d{1,3}(,\d{3})*$/);
  }));
});

Deno.test("no other module groups digits by hand (toLocaleString, Intl.NumberFormat, a regex)", () => {
  const offenders: string[] = [];
  const walk = (dir: URL, path: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory && !/^\.|^node_modules$|^results$/.test(entry.name)) {
        walk(new URL(`${entry.name}/`, dir), `${path}${entry.name}/`);
      } else if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
        const file = `${path}${entry.name}`;
        if (file === "pix/format.ts") continue;
        const source = Deno.readTextFileSync(new URL(entry.name, dir));
        if (/\.toLocaleString\(|Intl\.NumberFormat|\(\?=\(\\d\{3\}\)/.test(source)) {
          offenders.push(file);
        }
      }
    }
  };
  walk(new URL("../", import.meta.url), "");
  assert.deepEqual(offenders, []);
});
