/**
 * The list designs' wire format: one JSON object per list item, with the stream entry's field
 * names. Values are strings; numbers are accepted too (the Python original's list injector sends
 * `"amount": 12.3`) and kept as JavaScript prints them (`12.3`, `5` for `5.0`).
 * @module
 */
import {
  ErrorCode,
  type PaymentMessage,
  type Rejection,
  validatePayment,
  type ValidationLimits,
  type ValidationResult,
} from "@fastpix/pix";

/** The JSON text of a payment, as producers push it. */
export function toListPayload(message: PaymentMessage): string {
  return JSON.stringify(message);
}

/** Reads a list item into flat string fields, or says why it cannot be a payment. */
export function parseListPayload(
  raw: string,
): { ok: true; fields: Record<string, string> } | { ok: false; rejection: Rejection } {
  const malformed = (message: string) => ({
    ok: false as const,
    rejection: { code: ErrorCode.PAYLOAD_MALFORMED, message },
  });
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return malformed(`Cannot parse payload as JSON: ${why}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return malformed("Payload must be a JSON object of payment fields");
  }
  // No prototype: a field named "__proto__" must stay a plain field.
  const fields: Record<string, string> = Object.create(null);
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === "string") fields[name] = v;
    else if (typeof v === "number" && Number.isFinite(v)) fields[name] = String(v);
    else {return malformed(
        `Field ${JSON.stringify(name.slice(0, 40))} must be a string or a number`,
      );}
  }
  return { ok: true, fields };
}

/** What {@link validateListPayload} found: the fields (when they parsed) and the verdict. */
export type ListPayloadResult = { fields?: Record<string, string> } & ValidationResult;

/** Parses and validates one list item with the same rules as the stream consumer. */
export function validateListPayload(
  raw: string,
  options: { limits?: ValidationLimits; nowMs?: number } = {},
): ListPayloadResult {
  const parsed = parseListPayload(raw);
  if (!parsed.ok) return parsed;
  return { fields: parsed.fields, ...validatePayment(parsed.fields, options) };
}
