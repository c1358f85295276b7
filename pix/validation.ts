/**
 * Payment validation shared by the consumer and the ingress: rules as data, each failure a stable
 * numeric code and a one-line message. Adding a rule is one entry in {@link PAYMENT_RULES} and a test.
 * @module
 */
import { parseAmountCents } from "./money.ts";
import { checkPixKey, type PixKeyType } from "./pix_keys.ts";

/** Stable numeric error codes. Documented in the README; never renumber. */
export const ErrorCode = {
  TRANSACTION_ID_MISSING: 1001,
  TRANSACTION_ID_INVALID: 1002,
  BACKEND_ID_MISSING: 1101,
  BACKEND_ID_INVALID: 1102,
  AMOUNT_MISSING: 1201,
  AMOUNT_FORMAT: 1202,
  AMOUNT_NOT_POSITIVE: 1203,
  AMOUNT_ABOVE_MAX: 1204,
  AMOUNT_LEADING_ZEROS: 1205,
  TIMESTAMP_MISSING: 1301,
  TIMESTAMP_INVALID: 1302,
  TIMESTAMP_IN_FUTURE: 1303,
  TIMESTAMP_TOO_OLD: 1304,
  TIMESTAMP_OFFSET_INVALID: 1305,
  FIELD_TOO_LARGE: 1401,
  TOO_MANY_FIELDS: 1402,
  PAYER_KEY_UNKNOWN_TYPE: 1501,
  PAYER_KEY_CPF: 1502,
  PAYER_KEY_CNPJ: 1503,
  PAYER_KEY_EMAIL: 1504,
  PAYER_KEY_PHONE: 1505,
  PAYER_KEY_EVP: 1506,
  PAYEE_KEY_UNKNOWN_TYPE: 1511,
  PAYEE_KEY_CPF: 1512,
  PAYEE_KEY_CNPJ: 1513,
  PAYEE_KEY_EMAIL: 1514,
  PAYEE_KEY_PHONE: 1515,
  PAYEE_KEY_EVP: 1516,
  PAYER_NAME_TOO_SHORT: 1601,
  PAYLOAD_MALFORMED: 1403,
  FIELD_REPEATED: 1404,
  // The transaction_id was already counted for another payment (amount, backend or PIX keys):
  // the HTTP gateway answers it 409.
  TRANSACTION_CONFLICT: 1701,
  MAX_DELIVERIES_EXCEEDED: 2001,
  // One entry's own key is unusable; that entry alone is dead-lettered, the rest of its batch
  // applies (consumer/lua/includes/confirm.lua).
  CONFIRMATION_STREAM_WRONG_TYPE: 2101,
  MARK_WRONG_TYPE: 2102,
  // The HTTP gateway's own refusals (the request, not the payment, is at fault).
  REQUEST_BODY_TOO_LARGE: 3001,
  REQUEST_CONTENT_TYPE: 3002,
  REQUEST_JSON_INVALID: 3003,
  REQUEST_NOT_AN_OBJECT: 3004,
  REQUEST_FIELD_TYPE: 3005,
  REQUEST_JSON_DUPLICATE_KEY: 3006,
  DESIGN_UNKNOWN: 3101,
  DESIGN_NOT_ALLOWED: 3102,
  WAIT_UNSUPPORTED: 3103,
  ENQUEUE_FAILED: 3201,
  CONFIRMATION_TIMEOUT: 3202,
  QUEUE_LAG_TOO_HIGH: 3203,
  TOO_MANY_WAITERS: 3204,
  NOT_FOUND: 3301,
  METHOD_NOT_ALLOWED: 3302,
  // The HTTP serving layer of both servers (gateway and Rinha API): connections, limits, auth.
  UNAUTHORIZED: 3401,
  CONNECTIONS_EXHAUSTED: 3402,
  IN_FLIGHT_EXHAUSTED: 3403,
  REQUEST_TIMEOUT: 3404,
  REQUEST_HEADERS_TOO_LARGE: 3405,
  REQUEST_MALFORMED: 3406,
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

/** A payment as the consumer processes it (already validated). */
export interface Payment {
  transactionId: string;
  /**
   * The backend to confirm to; `""` when the message has no `backend_id`, which only
   * {@link validatePayment}'s `backendIdOptional` (the list designs) accepts: nothing is confirmed.
   */
  backendId: string;
  /** The amount exactly as sent (`"12.3"`). */
  amount: string;
  amountCents: number;
  timestamp: string;
  /** Every field of the message, optional ones included. */
  fields: Record<string, string>;
}

/** Why a message was refused. */
export interface Rejection {
  code: ErrorCodeValue;
  message: string;
}

/** The outcome of validating one message. */
export type ValidationResult = { ok: true; payment: Payment } | { ok: false; rejection: Rejection };

/** Limits the rules read; defaults match the README. */
export interface ValidationLimits {
  /** Largest accepted amount, in cents (`PIX_MAX_AMOUNT`). */
  maxAmountCents: number;
  /** How far ahead of now a timestamp may be, in ms (`TIMESTAMP_MAX_SKEW_MS`). */
  maxFutureSkewMs: number;
  /** Earliest accepted timestamp, epoch ms (`TIMESTAMP_MIN`; default 2000-01-01T00:00:00Z). */
  minTimestampMs?: number;
  /** Longest accepted field value, in characters. */
  maxFieldLength: number;
  /** Most fields a message may carry. */
  maxFields: number;
  /** Fewest characters (after trimming) of `payer_name`, when present (default 2). */
  minPayerNameLength?: number;
}

/** Earliest timestamp accepted by default: 2000-01-01T00:00:00Z. */
export const DEFAULT_MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);

/** Largest zone offset accepted, in minutes (UTC+14:00 is the furthest any zone goes). */
export const MAX_ZONE_OFFSET_MINUTES = 14 * 60;

/**
 * Default limits: 1,000,000.00 BRL, timestamps from 2000-01-01T00:00:00Z to one day ahead of now,
 * 1 KiB per field, 32 fields, payer names of at least 2 characters.
 */
export const DEFAULT_LIMITS: ValidationLimits = {
  maxAmountCents: 100_000_000,
  maxFutureSkewMs: 24 * 3600 * 1000,
  minTimestampMs: DEFAULT_MIN_TIMESTAMP_MS,
  maxFieldLength: 1024,
  maxFields: 32,
  minPayerNameLength: 2,
};

/** `backend_id` becomes part of a key name, so it is kept to a safe alphabet. */
export const BACKEND_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Transaction ids: UUIDs, the original's numeric ids, and other opaque tokens. */
export const TRANSACTION_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
const TIMESTAMP_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an ISO 8601 timestamp as the Python original sends it (`datetime.now().isoformat()`:
 * microseconds, no zone) or with a zone. A missing zone is read as UTC. Returns epoch ms, or
 * `undefined` when the text is no timestamp or its zone offset is beyond ±14:00 (`+99:99`).
 */
export function parseTimestamp(text: string): number | undefined {
  return readTimestamp(text).ms;
}

/** A timestamp's epoch ms, or what is wrong with it. */
type TimestampReading = { ms: number; problem?: undefined } | {
  ms?: undefined;
  problem: "format" | "offset";
};

function readTimestamp(text: string): TimestampReading {
  // Several rules read the same timestamp one after the other: remember the last answer.
  if (text === lastTimestamp.text) return lastTimestamp.reading;
  const reading = readTimestampText(text);
  lastTimestamp = { text, reading };
  return reading;
}

let lastTimestamp: { text: string; reading: TimestampReading } = {
  text: "",
  reading: { problem: "format" },
};

function readTimestampText(text: string): TimestampReading {
  const m = TIMESTAMP_PATTERN.exec(text);
  if (m === null) return { problem: "format" };
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = Number(m[6] ?? "0");
  const millis = Number((m[7] ?? "0").slice(0, 3).padEnd(3, "0"));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) {
    return { problem: "format" };
  }
  let utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC reads years 0-99 as 1900-1999: set the year itself (0050 is 0050, not 1950).
  if (year < 100) utc = new Date(utc).setUTCFullYear(year, month - 1, day);
  if (new Date(utc).getUTCDate() !== day) return { problem: "format" }; // 2024-02-30 and friends
  const zone = m[8];
  if (zone === undefined || zone === "Z") return { ms: utc };
  const sign = zone[0] === "-" ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const [offsetHours, offsetMinutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
  const offsetMin = offsetHours * 60 + offsetMinutes;
  if (offsetMinutes > 59 || offsetMin > MAX_ZONE_OFFSET_MINUTES) return { problem: "offset" };
  return { ms: utc - sign * offsetMin * 60_000 };
}

interface RuleContext {
  limits: ValidationLimits;
  nowMs: number;
  /** A message without `backend_id` is accepted (see {@link ValidateOptions}). */
  backendIdOptional?: boolean;
}

/** Options of {@link validatePayment}. */
export interface ValidateOptions {
  limits?: ValidationLimits;
  nowMs?: number;
  /**
   * Accept a message that has no `backend_id` field at all (the Python original's list payloads):
   * it is processed and counted, and confirmed to nobody. An empty `backend_id` is still refused.
   */
  backendIdOptional?: boolean;
}

/** A validation rule: the first one whose `fails` returns a message decides the rejection. */
export interface PaymentRule {
  code: ErrorCodeValue;
  /** Returns a one-line reason when the message breaks the rule. */
  fails(fields: Record<string, string>, ctx: RuleContext): string | undefined;
}

const show = (value: string) =>
  JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);

/**
 * How long a personal value is, in its place in a message: PIX keys and names are personal data,
 * so messages (which reach logs, dead letters and HTTP answers) never quote them.
 */
const length = (value: string) => value.length === 1 ? "1 character" : `${value.length} characters`;

/**
 * Six rules for an optional PIX key field, one per code: `base + 1` no PIX key has this shape, then
 * `base + 2..6` the CPF, CNPJ, e-mail, phone or random key it looks like is not valid.
 */
function pixKeyRules(field: "payer_key" | "payee_key", base: 1500 | 1510): PaymentRule[] {
  const types: (PixKeyType | undefined)[] = [undefined, "cpf", "cnpj", "email", "phone", "evp"];
  return types.map((type, i) => ({
    code: (base + 1 + i) as ErrorCodeValue,
    fails: (f) => {
      const key = f[field];
      if (key === undefined) return undefined;
      const check = checkPixKey(key);
      return check.type === type && check.problem !== undefined
        ? `Cannot accept ${field} of ${length(key)}: ${check.problem}`
        : undefined;
    },
  }));
}

/** The rules, in the order they are checked. */
export const PAYMENT_RULES: readonly PaymentRule[] = [
  {
    code: ErrorCode.TOO_MANY_FIELDS,
    fails: (f, { limits }) => {
      const n = Object.keys(f).length;
      return n > limits.maxFields
        ? `Message has ${n} fields; at most ${limits.maxFields}`
        : undefined;
    },
  },
  {
    code: ErrorCode.FIELD_TOO_LARGE,
    fails: (f, { limits }) => {
      for (const name in f) {
        const value = f[name];
        if (value.length > limits.maxFieldLength || name.length > 64) {
          return `Field ${
            show(name)
          } is ${value.length} characters; at most ${limits.maxFieldLength}`;
        }
      }
    },
  },
  {
    code: ErrorCode.TRANSACTION_ID_MISSING,
    fails: (f) => f.transaction_id ? undefined : "Field transaction_id is missing",
  },
  {
    code: ErrorCode.TRANSACTION_ID_INVALID,
    fails: (f) =>
      TRANSACTION_ID_PATTERN.test(f.transaction_id)
        ? undefined
        : `Cannot accept transaction_id ${
          show(f.transaction_id)
        }: use 1-128 of A-Z a-z 0-9 _ . : -`,
  },
  {
    code: ErrorCode.BACKEND_ID_MISSING,
    fails: (f, { backendIdOptional }) => {
      if (f.backend_id) return undefined;
      if (!backendIdOptional) return "Field backend_id is missing";
      return f.backend_id === undefined
        ? undefined
        : "Field backend_id is empty: name a backend or leave the field out";
    },
  },
  {
    code: ErrorCode.BACKEND_ID_INVALID,
    fails: (f) =>
      f.backend_id === undefined || BACKEND_ID_PATTERN.test(f.backend_id)
        ? undefined
        : `Cannot accept backend_id ${show(f.backend_id)}: use 1-64 of A-Z a-z 0-9 _ -`,
  },
  {
    code: ErrorCode.AMOUNT_MISSING,
    fails: (f) => f.amount ? undefined : "Field amount is missing",
  },
  {
    code: ErrorCode.AMOUNT_NOT_POSITIVE,
    fails: (f) => {
      const n = Number(f.amount);
      return f.amount.trim().startsWith("-") || (/^[\d.]+$/.test(f.amount) && n === 0)
        ? `Amount ${show(f.amount)} must be greater than zero`
        : undefined;
    },
  },
  {
    code: ErrorCode.AMOUNT_FORMAT,
    fails: (f) =>
      parseAmountCents(f.amount) === undefined
        ? `Cannot parse amount ${show(f.amount)}: use a dot and at most 2 decimals`
        : undefined,
  },
  {
    // "00.01" and "007.50" parse, but no producer writes them (Python prints 0.01 and 7.5): refused
    // rather than read as a number the sender may not have meant.
    code: ErrorCode.AMOUNT_LEADING_ZEROS,
    fails: (f) =>
      /^0\d/.test(f.amount)
        ? `Amount ${show(f.amount)} has leading zeros: write ${
          show(f.amount.replace(/^0+(?=\d)/, ""))
        }`
        : undefined,
  },
  {
    code: ErrorCode.AMOUNT_ABOVE_MAX,
    fails: (f, { limits }) =>
      parseAmountCents(f.amount)! > limits.maxAmountCents
        ? `Amount ${show(f.amount)} is above the limit of ${limits.maxAmountCents / 100}`
        : undefined,
  },
  {
    code: ErrorCode.TIMESTAMP_MISSING,
    fails: (f) => f.timestamp ? undefined : "Field timestamp is missing",
  },
  {
    code: ErrorCode.TIMESTAMP_INVALID,
    fails: (f) =>
      readTimestamp(f.timestamp).problem === "format"
        ? `Cannot parse timestamp ${show(f.timestamp)}: use ISO 8601 such as 2026-01-31T12:00:00Z`
        : undefined,
  },
  {
    code: ErrorCode.TIMESTAMP_OFFSET_INVALID,
    fails: (f) =>
      readTimestamp(f.timestamp).problem === "offset"
        ? `Cannot accept timestamp ${
          show(f.timestamp)
        }: its zone offset must be from -14:00 to +14:00, minutes 00-59`
        : undefined,
  },
  {
    code: ErrorCode.TIMESTAMP_TOO_OLD,
    fails: (f, { limits }) => {
      const min = limits.minTimestampMs ?? DEFAULT_MIN_TIMESTAMP_MS;
      return readTimestamp(f.timestamp).ms! < min
        ? `Timestamp ${show(f.timestamp)} is before ${
          new Date(min).toISOString()
        }, the earliest accepted`
        : undefined;
    },
  },
  {
    code: ErrorCode.TIMESTAMP_IN_FUTURE,
    fails: (f, { limits, nowMs }) =>
      readTimestamp(f.timestamp).ms! > nowMs + limits.maxFutureSkewMs
        ? `Timestamp ${show(f.timestamp)} is too far in the future`
        : undefined,
  },
  ...pixKeyRules("payer_key", 1500),
  ...pixKeyRules("payee_key", 1510),
  {
    code: ErrorCode.PAYER_NAME_TOO_SHORT,
    fails: (f, { limits }) => {
      const name = f.payer_name;
      if (name === undefined) return undefined;
      const length = [...name.trim()].length;
      const min = limits.minPayerNameLength ?? 2;
      return length < min
        ? `Payer name of ${
          length === 1 ? "1 character" : `${length} characters`
        } is too short; at least ${min}`
        : undefined;
    },
  },
];

const AMOUNT_TEXT_CODES: ReadonlySet<ErrorCodeValue> = new Set([
  ErrorCode.AMOUNT_NOT_POSITIVE,
  ErrorCode.AMOUNT_FORMAT,
  ErrorCode.AMOUNT_LEADING_ZEROS,
]);

/**
 * The amount rules of {@link PAYMENT_RULES} that read only the text (above zero, a plain decimal
 * with at most 2 places, no leading zeros), in their order: how both HTTP servers judge an amount,
 * a JSON number's exact source text included. `undefined` when the amount passes them.
 */
export function amountRejection(text: string): Rejection | undefined {
  const fields = { amount: text };
  const ctx = { limits: DEFAULT_LIMITS, nowMs: 0 };
  for (const rule of PAYMENT_RULES) {
    if (!AMOUNT_TEXT_CODES.has(rule.code)) continue;
    const message = rule.fails(fields, ctx);
    if (message !== undefined) return { code: rule.code, message };
  }
  return undefined;
}

/** Validates the fields of one message against {@link PAYMENT_RULES}. */
export function validatePayment(
  fields: Record<string, string>,
  options: ValidateOptions = {},
): ValidationResult {
  const ctx = {
    limits: options.limits ?? DEFAULT_LIMITS,
    nowMs: options.nowMs ?? Date.now(),
    backendIdOptional: options.backendIdOptional,
  };
  for (const rule of PAYMENT_RULES) {
    const message = rule.fails(fields, ctx);
    if (message !== undefined) return { ok: false, rejection: { code: rule.code, message } };
  }
  return {
    ok: true,
    payment: {
      transactionId: fields.transaction_id,
      backendId: fields.backend_id ?? "",
      amount: fields.amount,
      amountCents: parseAmountCents(fields.amount)!,
      timestamp: fields.timestamp,
      fields,
    },
  };
}

/** The outcome of validating one stream entry: its fields as a record, and the verdict. */
export type EntryValidation = ValidationResult & { fields: Record<string, string> };

/**
 * Validates one stream entry as Redis returns it, a flat `[field, value, ...]` list: a field name
 * given twice is refused ({@link ErrorCode.FIELD_REPEATED}: `amount 1.00 ... amount 999999.00`
 * has no one meaning), then the record goes through {@link validatePayment}. Every consumer path
 * that validates stream entries goes through here.
 */
export function validateEntry(
  flat: readonly string[],
  options: { limits?: ValidationLimits; nowMs?: number } = {},
): EntryValidation {
  const fields = fieldsToRecord(flat);
  // One own key per pair unless a name came back: the search below runs only for such entries.
  if (Object.keys(fields).length === flat.length >> 1) {
    return { fields, ...validatePayment(fields, options) };
  }
  const seen = new Set<string>();
  let name = "";
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (seen.has(flat[i])) {
      name = flat[i];
      break;
    }
    seen.add(flat[i]);
  }
  const values: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) values.push(flat[i + 1]);
  const message = `Field ${show(name)} appears ${values.length} times (${
    values.slice(0, 3).map(show).join(", ")
  }${values.length > 3 ? ", …" : ""}): send each field once`;
  return { fields, ok: false, rejection: { code: ErrorCode.FIELD_REPEATED, message } };
}

/**
 * Turns Redis's flat `[field, value, ...]` list into a record (a repeated field keeps its last
 * value: to validate an entry, use {@link validateEntry}, which refuses repeats).
 */
export function fieldsToRecord(flat: readonly string[]): Record<string, string> {
  // An ordinary object stays in V8's fast mode (a null-prototype one does not, and validation
  // walks it per message); "__proto__" is defined as a plain own field so it cannot set the prototype.
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i];
    if (name === "__proto__") {
      Object.defineProperty(record, name, {
        value: flat[i + 1],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else record[name] = flat[i + 1];
  }
  return record;
}
