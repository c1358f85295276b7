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

/**
 * Last processing error of entries that failed and wait to be retried: a hash, stream id → message.
 * Written when processing fails, read when the entry is dead-lettered, cleared once it is applied.
 */
export function lastErrorKey(stream: string): string {
  return `pix:last_error:${stream}`;
}

/**
 * The ledger's outbox for a payment stream: one entry per applied batch (its rows for PostgreSQL),
 * written atomically with the batch and removed once PostgreSQL has them.
 */
export function ledgerOutboxKey(stream: string): string {
  return `pix:ledger:outbox:${stream}`;
}

/** Ledger rows waiting in the outbox for PostgreSQL (string int). */
export function ledgerBacklogKey(stream: string): string {
  return `pix:ledger:backlog:${stream}`;
}
