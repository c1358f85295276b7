/**
 * The Rinha de Backend 2025 wire format, shared by the payment processor simulator and the Rinha
 * backend: correlation ids, amounts as JSON numbers read into exact cents, `from`/`to` instants,
 * and summary windows.
 * @module
 */
import { parseAmountCents } from "@fastpix/pix";
import { parseTimestamp } from "@fastpix/pix";

/** A UUID of any version, either case (the processors compare them case-insensitively). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads a JSON amount (`19.9`, `19.90` and `20` all arrive as JS numbers) into integer cents.
 * The number's shortest decimal text decides: `0.1` is 10 cents, `0.123` is refused.
 * Returns `undefined` unless it is a number above zero with at most 2 decimals.
 */
export function centsFromJsonNumber(value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
  const cents = parseAmountCents(String(value));
  return cents === undefined || cents === 0 ? undefined : cents;
}

const FRACTION = /\.(\d+)/;

/**
 * Parses a `from` or `to` query value (ISO 8601; no zone reads as UTC) into epoch ms, rounded so
 * that comparing millisecond timestamps with it is exact: a `from` with sub-millisecond digits
 * rounds up, a `to` rounds down. Returns `undefined` when it is not a timestamp.
 */
export function parseInstantBound(text: string, side: "from" | "to"): number | undefined {
  const ms = parseTimestamp(text.trim());
  if (ms === undefined) return undefined;
  const extra = FRACTION.exec(text)?.[1].slice(3) ?? "";
  return side === "from" && /[1-9]/.test(extra) ? ms + 1 : ms;
}

/** Inclusive bounds of a summary query, in epoch ms. */
export interface InstantRange {
  fromMs: number;
  toMs: number;
}

/**
 * Reads `from` and `to` from a query string (both optional, both inclusive).
 * Returns an error message naming the bad parameter instead of a range when one does not parse.
 */
export function parseInstantRange(params: URLSearchParams): InstantRange | string {
  const range: InstantRange = { fromMs: -8.64e15, toMs: 8.64e15 };
  for (const side of ["from", "to"] as const) {
    const text = params.get(side);
    if (text === null || text === "") continue;
    const ms = parseInstantBound(text, side);
    if (ms === undefined) {
      return `Cannot parse ${side}=${
        JSON.stringify(text.slice(0, 60))
      }: use ISO 8601 UTC such as 2025-07-15T12:34:56.000Z`;
    }
    range[side === "from" ? "fromMs" : "toMs"] = ms;
  }
  return range;
}
