/**
 * Redis key names, fixed by DESIGN.md. Everything that is not in DESIGN.md lives under `pix:`.
 * @module
 */

/** Payments confirmed (string int). */
export const PROCESSED_COUNT_KEY = "processed_count";
/** Exact sum confirmed, 2 places (string decimal), derived from the cents key. */
export const TOTAL_AMOUNT_KEY = "total_amount";
/** Exact sum confirmed in cents (string int): the source of truth. */
export const TOTAL_AMOUNT_CENTS_KEY = "total_amount_cents";
/** Idempotency marks: `pix:done:<transaction_id>` holds the stream id that counted it. */
export const DONE_MARK_PREFIX = "pix:done:";
/** Latency summary the consumer publishes (hash; see README). */
export const LATENCY_KEY = "pix:latency";

/** The dead-letter stream of a payment stream. */
export function dlqKey(stream: string): string {
  return `${stream}:dlq`;
}

/** The confirmation stream of one backend. */
export function responseStreamKey(prefix: string, backendId: string): string {
  return `${prefix}${backendId}`;
}

/** The list designs' queue `i`. */
export function sourceListKey(index: number): string {
  return `source_list_${index}`;
}

/** Reliable list design: hash of live consumers, `<consumer>` → the source list it takes from. */
export const LIST_CONSUMERS_KEY = "pix:list_consumers";

/** Reliable list design: the payments `consumer` has taken and not yet finished (list). */
export function listProcessingKey(consumer: string): string {
  return `pix:list_processing:${consumer}`;
}

/** Reliable list design: present while `consumer` is alive (string with a PX expiry). */
export function listHeartbeatKey(consumer: string): string {
  return `pix:list_heartbeat:${consumer}`;
}
