/**
 * The list designs' wire format: one JSON object per list item, with the stream entry's field
 * names. Values are strings; numbers are accepted too (the Python original's list injector sends
 * `"amount": 12.3`) and kept as JavaScript prints them (`12.3`, `5` for `5.0`). `backend_id` may be
 * left out, as the original's list injector does (`transaction_id`, `amount`, `timestamp` only):
 * such a payment is processed and counted like any other, and confirmed to nobody.
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
  // JSON.parse makes an ordinary object (V8 fast mode) whose "__proto__" key, if any, is a plain
  // own field; it is used as is, numbers turned into strings in place.
  const fields = value as Record<string, unknown>;
  for (const name in fields) {
    const v = fields[name];
    if (typeof v === "string") continue;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      return malformed(`Field ${JSON.stringify(name.slice(0, 40))} must be a string or a number`);
    }
    Object.defineProperty(fields, name, {
      value: String(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { ok: true, fields: fields as Record<string, string> };
}

/** What {@link validateListPayload} found: the fields (when they parsed) and the verdict. */
export type ListPayloadResult = { fields?: Record<string, string> } & ValidationResult;

/**
 * Parses and validates one list item with the same rules as the stream consumer, except that
 * `backend_id` may be left out (the payment's `backendId` is then `""`: no confirmation).
 */
export function validateListPayload(
  raw: string,
  options: { limits?: ValidationLimits; nowMs?: number } = {},
): ListPayloadResult {
  const parsed = parseListPayload(raw);
  if (!parsed.ok) return parsed;
  return {
    fields: parsed.fields,
    ...validatePayment(parsed.fields, { ...options, backendIdOptional: true }),
  };
}
