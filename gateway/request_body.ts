/**
 * From an HTTP request to a payment message: content type, size cap, JSON, field types, defaults
 * (`transaction_id`, `timestamp`), then the consumer's own validation. Every refusal is an
 * {@link HttpRejection} with its status and numeric error code; nothing here touches Redis.
 * @module
 */
import {
  describeJson,
  ErrorCode,
  type ErrorCodeValue,
  formatCents,
  JsonNumber,
  parseAmountCents,
  parseJsonObject,
  type PaymentMessage,
  uuidv7,
  validatePayment,
  type ValidationLimits,
} from "@fastpix/pix";

/** Why a request was refused, and with which status. */
export interface HttpRejection {
  status: number;
  code: ErrorCodeValue;
  message: string;
}

/** The outcome of reading a payment request. */
export type PaymentRequest = { ok: true; payment: PaymentMessage } | {
  ok: false;
  rejection: HttpRejection;
};

/** Settings of {@link readPaymentRequest}. */
export interface PaymentRequestOptions {
  /** Largest accepted body, in bytes (`MAX_BODY_BYTES`). */
  maxBodyBytes: number;
  limits: ValidationLimits;
}

const refuse = (status: number, code: ErrorCodeValue, message: string) =>
  ({ ok: false, rejection: { status, code, message } }) as const;

/** `application/json` or any `application/<something>+json`, parameters allowed. */
export function isJsonContentType(header: string | null): boolean {
  if (header === null) return false;
  const type = header.split(";", 1)[0].trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** Reads a `POST /pix/payments` request into a validated payment message. */
export async function readPaymentRequest(
  request: Request,
  options: PaymentRequestOptions,
): Promise<PaymentRequest> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    return refuse(
      415,
      ErrorCode.REQUEST_CONTENT_TYPE,
      `Cannot read a ${
        request.headers.get("content-type") ?? "body without content type"
      }: send Content-Type: application/json`,
    );
  }
  const text = await readCapped(request, options.maxBodyBytes);
  if (text === undefined) {
    return refuse(
      413,
      ErrorCode.REQUEST_BODY_TOO_LARGE,
      `Request body is larger than ${options.maxBodyBytes} bytes`,
    );
  }
  const parsed = parsePaymentJson(text);
  if (!parsed.ok) return parsed;
  const fields = parsed.fields;
  fields.transaction_id ??= uuidv7();
  fields.timestamp ??= new Date().toISOString();
  const result = validatePayment(fields, { limits: options.limits });
  if (!result.ok) return refuse(400, result.rejection.code, result.rejection.message);
  return { ok: true, payment: fields as unknown as PaymentMessage };
}

/** The body as text, or `undefined` when it is longer than `cap` bytes. */
async function readCapped(request: Request, cap: number): Promise<string | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > cap) return undefined;
    return await request.text(); // the server holds the body to its declared length
  }
  if (request.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > cap) return undefined;
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

const PLAIN_AMOUNT = /^\d+(?:\.\d{1,2})?$/;

/**
 * Parses a JSON object of string or number fields into strings, with the one strict reading both
 * servers share ({@link parseStrictJson}): a key given twice is refused, and numbers keep their
 * exact source text (never a float round trip): an `amount` of `19.9` becomes `"19.90"`, while
 * `0.1` + `0.2` style values, more than 2 decimals or exponents stay as written and fail validation.
 */
export function parsePaymentJson(
  text: string,
): { ok: true; fields: Record<string, string> } | { ok: false; rejection: HttpRejection } {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return refuse(400, parsed.code, parsed.message);
  const value = parsed.object;
  // The parser makes own data properties, so a field named "__proto__" stays a plain field.
  const fields = value as Record<string, string>;
  for (const name in value) {
    const field = value[name];
    if (field instanceof JsonNumber) {
      fields[name] = name === "amount" && PLAIN_AMOUNT.test(field.source)
        ? formatCents(parseAmountCents(field.source) ?? 0)
        : field.source;
    } else if (typeof field !== "string") {
      return refuse(
        400,
        ErrorCode.REQUEST_FIELD_TYPE,
        `Field ${JSON.stringify(name.slice(0, 64))} must be a string or a number, not ${
          describeJson(field)
        }`,
      );
    }
  }
  return { ok: true, fields };
}
