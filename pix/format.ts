/**
 * Numbers for people, the same in every tool: thousands grouped with `,`, `.` before decimals
 * (`21,938`, `1,002,787,341.70`). Only for human-readable output: JSON and Redis values stay plain
 * (`21938`, `"1002787341.70"`). Dependency-free: the k6 scenarios import it as well.
 * @module
 */

/** `"1234567"` → `"1,234,567"`: commas between groups of three digits of a digit string. */
const group = (digits: string) => digits.replace(/\B(?=(\d{3})+$)/g, ",");

/**
 * A count: `21938` → `21,938`. Numbers are rounded; bigints and integer strings are exact at any
 * size. Anything that is not a finite number or an integer string is returned as text.
 */
export function formatCount(n: number | bigint | string): string {
  // toFixed(0) writes every digit of the double below 1e21 (and -0 as "0").
  return formatDecimal(typeof n === "number" ? Math.round(n).toFixed(0) : String(n));
}

/**
 * A number, grouped: with `decimals` fixed places (`formatNumber(12345.678, 1)` → `12,345.7`), or
 * all its digits without (`formatNumber(1500.25)` → `1,500.25`).
 */
export function formatNumber(n: number, decimals?: number): string {
  if (!Number.isFinite(n)) return String(n);
  const text = decimals === undefined ? String(n) : n.toFixed(decimals);
  // -0.001 to 0 places is "-0": no sign on a zero.
  return formatDecimal(/^-[0.]+$/.test(text) ? text.slice(1) : text);
}

/**
 * Integer cents as reais with two places: `100278734170n` → `1,002,787,341.70`, `-150` →
 * `-1.50`. Bigint and string cents are exact beyond 2^53 (digit strings throughout, no float).
 */
export function formatBrl(cents: number | bigint | string): string {
  const text = typeof cents === "number" && Number.isInteger(cents)
    ? BigInt(cents).toString()
    : String(cents);
  const match = /^(-?)0*(\d+)$/.exec(text);
  if (match === null) {
    throw new RangeError(`Not integer cents: ${JSON.stringify(String(cents))}`);
  }
  const digits = match[2].padStart(3, "0");
  const sign = /^0+$/.test(digits) ? "" : match[1];
  return `${sign}${group(digits.slice(0, -2))}.${digits.slice(-2)}`;
}

/**
 * An exact decimal string, grouped: `"50007718.10"` → `"50,007,718.10"`. Anything else (`"abc"`,
 * `"1e21"`) is returned unchanged.
 */
export function formatDecimal(text: string): string {
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(text);
  if (match === null) return text;
  return `${match[1]}${group(match[2])}${match[3] ?? ""}`;
}

/** Milliseconds with the precision that suits their size: `0.42`, `12.5`, `340`, `1,500`. */
export function formatMs(ms: number): string {
  const abs = Math.abs(ms);
  return formatNumber(ms, abs < 10 ? 2 : abs < 100 ? 1 : 0);
}
