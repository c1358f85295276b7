/**
 * Exact money: decimal strings in, integer cents inside, decimal strings out.
 * Never a float: `0.1 + 0.2` drift is what the Python original shows in `total_amount`.
 * @module
 */

/** Largest integer part we accept (12 digits keeps cents below 2^53). */
const AMOUNT_PATTERN = /^(\d{1,12})(?:\.(\d{1,2}))?$/;

/**
 * Parses a decimal amount such as `"12.3"`, `"5.0"` or `"19.90"` into integer cents.
 * Returns `undefined` when the text is not a plain decimal with at most 2 places.
 */
export function parseAmountCents(text: string): number | undefined {
  const match = AMOUNT_PATTERN.exec(text);
  if (match === null) return undefined;
  const fraction = (match[2] ?? "").padEnd(2, "0");
  return Number(match[1]) * 100 + Number(fraction);
}

/** Formats cents as a decimal with exactly two places: `5000771810n` → `"50007718.10"`. */
export function formatCents(cents: bigint | number): string {
  const value = BigInt(cents);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const fraction = (abs % 100n).toString().padStart(2, "0");
  return `${sign}${abs / 100n}.${fraction}`;
}
