/**
 * Payment fingerprints and the idempotency mark that holds one. Two messages with the same
 * `transaction_id` are the same payment (an honest retry: `duplicate`) when their fingerprints
 * match, and a conflict (`TRANSACTION_CONFLICT`, 1701) when they do not. The fingerprint covers
 * what makes the payment: its amount in cents, its backend and its PIX keys (not the timestamp,
 * which a retry may renew, nor free text such as the payer's name or the description).
 * @module
 */
import type { Payment } from "./validation.ts";

/** Characters of a fingerprint: 8 of base64url, 48 bits. */
export const FINGERPRINT_LENGTH = 8;

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Two independent 32-bit hashes of `text` (cyrb53's mixing). */
function hash64(text: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/**
 * The payment's fingerprint: 8 base64url characters hashing its amount in cents, backend id, and
 * `payer_key` and `payee_key` (absent and present are different). Not a security measure: it tells
 * an honest retry from a different payment under the same id, with a 2^-48 chance of missing one.
 */
export function paymentFingerprint(
  payment: Pick<Payment, "amountCents" | "backendId" | "fields">,
): string {
  const f = payment.fields;
  const [h1, h2] = hash64(
    JSON.stringify([
      payment.amountCents,
      payment.backendId,
      f.payer_key ?? null,
      f.payee_key ?? null,
    ]),
  );
  // 48 bits: all of h1, the top 16 of h2.
  let out = "";
  for (let shift = 26; shift >= 2; shift -= 6) out += BASE64URL[(h1 >>> shift) & 63];
  out += BASE64URL[((h1 & 3) << 4) | (h2 >>> 28)];
  out += BASE64URL[(h2 >>> 22) & 63];
  out += BASE64URL[(h2 >>> 16) & 63];
  return out;
}

/** What an idempotency mark (`pix:done:<transaction_id>`) holds. */
export interface Mark {
  /** The counted payment's fingerprint; undefined in a mark written before fingerprints. */
  fingerprint?: string;
  /** What counted it: the stream entry id, or the list design's source list. */
  origin: string;
}

/** A mark's value: `<fingerprint>:<origin>` (the batch scripts write it: includes/confirm.lua). */
export function markValue(mark: Required<Mark>): string {
  return `${mark.fingerprint}:${mark.origin}`;
}

const MARK_PATTERN = /^([A-Za-z0-9_-]{8}):(.*)$/s;

/** Reads a mark's value; a value without a fingerprint (the origin alone) is an older mark. */
export function parseMark(value: string): Mark {
  const m = MARK_PATTERN.exec(value);
  return m === null ? { origin: value } : { fingerprint: m[1], origin: m[2] };
}
