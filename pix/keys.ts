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
/**
 * Idempotency marks: `pix:done:<transaction_id>` holds `<fingerprint>:<origin>`, the counted
 * payment's fingerprint and the stream id (or source list) that counted it (`parseMark`).
 */
export const DONE_MARK_PREFIX = "pix:done:";
/** Latency summary the consumer publishes (hash; see README). */
export const LATENCY_KEY = "pix:latency";

/** The dead-letter stream of a payment stream. */
export function dlqKey(stream: string): string {
  return `${stream}:dlq`;
}

/**
 * The confirmation stream of one backend; with a partition `tag` (partitioned layout), that
 * backend's confirmations from that partition: `<prefix><id>:{<tag>}`, in the partition's slot.
 */
export function responseStreamKey(prefix: string, backendId: string, tag?: string): string {
  return tag === undefined ? `${prefix}${backendId}` : `${prefix}${backendId}:{${tag}}`;
}

/** The keys one batch of the stream consumer touches: a whole single stream, or one partition. */
export interface StreamKeys {
  /** Partition hash tag (see `partitions.ts`); undefined for the single-stream layout. */
  tag?: string;
  stream: string;
  dlq: string;
  processedCount: string;
  totalAmount: string;
  totalAmountCents: string;
  /** Idempotency marks are `<markPrefix><transaction_id>`. */
  markPrefix: string;
}

/**
 * The keys of `stream`, or of its partition `tag`: every key gets `{<tag>}` so Redis Cluster keeps
 * them in one slot (`pix_payments:{t}`, `pix_payments:{t}:dlq`, `processed_count:{t}`,
 * `total_amount:{t}`, `total_amount_cents:{t}`, `pix:done:{t}:<transaction_id>`).
 */
export function streamKeys(stream: string, tag?: string): StreamKeys {
  if (tag === undefined) {
    return {
      stream,
      dlq: dlqKey(stream),
      processedCount: PROCESSED_COUNT_KEY,
      totalAmount: TOTAL_AMOUNT_KEY,
      totalAmountCents: TOTAL_AMOUNT_CENTS_KEY,
      markPrefix: DONE_MARK_PREFIX,
    };
  }
  const t = `{${tag}}`;
  return {
    tag,
    stream: `${stream}:${t}`,
    dlq: dlqKey(`${stream}:${t}`),
    processedCount: `${PROCESSED_COUNT_KEY}:${t}`,
    totalAmount: `${TOTAL_AMOUNT_KEY}:${t}`,
    totalAmountCents: `${TOTAL_AMOUNT_CENTS_KEY}:${t}`,
    markPrefix: `${DONE_MARK_PREFIX}${t}:`,
  };
}

/** Base name of the list designs' queues by default (`REDIS_LIST`). */
export const DEFAULT_LIST_BASE = "source_list";

/** How the list designs name their queues (`REDIS_LIST`, `USE_HASHTAG`), as the original does. */
export interface ListNaming {
  /** Queue `i` is `<base>_<i>` (`REDIS_LIST`, default `source_list`). */
  base: string;
  /**
   * Wrap the whole name in braces, `{<base>_<i>}` (`USE_HASHTAG`): on a cluster each queue hashes
   * to its own slot, and its dead-letter stream (`{<base>_<i>}:dlq`) to the same one.
   */
  hashtag: boolean;
}

/** `source_list_<i>`. */
export const DEFAULT_LIST_NAMING: ListNaming = { base: DEFAULT_LIST_BASE, hashtag: false };

/**
 * The list designs' queue `index`: `<base>_<index>`, or `{<base>_<index>}` with `hashtag`. The one
 * place a queue's name is built; everything that names a list design's queue calls it.
 */
export function sourceListKey(index: number, naming: ListNaming = DEFAULT_LIST_NAMING): string {
  const name = `${naming.base}_${index}`;
  return naming.hashtag ? `{${name}}` : name;
}

/**
 * What every queue of base `base` starts with, in both shapes (`<base>_`, `{<base>_`): what a
 * scan looks for when it should find the queues however `USE_HASHTAG` is set.
 */
export function sourceListPrefixes(base: string = DEFAULT_LIST_BASE): string[] {
  const plain = `${base}_`;
  return [plain, `{${plain}`];
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

/** Reliable list design: hash of live consumers, `<consumer>` → the source list it takes from. */
export const LIST_CONSUMERS_KEY = "pix:list_consumers";

/** Prefix of the reliable list design's processing lists: `pix:list_processing:<consumer>`. */
export const LIST_PROCESSING_PREFIX = "pix:list_processing:";

/** Reliable list design: the payments `consumer` has taken and not yet finished (list). */
export function listProcessingKey(consumer: string): string {
  return `${LIST_PROCESSING_PREFIX}${consumer}`;
}

/** Reliable list design: present while `consumer` is alive (string with a PX expiry). */
export function listHeartbeatKey(consumer: string): string {
  return `pix:list_heartbeat:${consumer}`;
}
