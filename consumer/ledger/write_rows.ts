/**
 * Writes outbox batches to PostgreSQL in one transaction of three statements, each a single
 * multi-row INSERT fed by one JSON parameter, and each idempotent: writing the same batches again
 * changes nothing (a writer killed after COMMIT but before it acknowledged the outbox is harmless).
 *
 * - `payments`: one row per transaction id. A stream entry's first recorded outcome is final (as
 *   its first XACK is in Redis); across entries, `done` replaces an earlier `error` (a payment that
 *   failed, then was replayed or resent and confirmed), and nothing replaces `done`. Messages without
 *   a usable transaction id are keyed by their stream entry.
 * - `processing_metrics`: one row per batch, keyed by the batch's UUID.
 * - `consumer_stats`: incremented only by metrics rows that were new.
 * @module
 */
import type { OutboxBatch } from "./outbox.ts";
import type { Sql } from "./postgres.ts";

/**
 * A batch as the outbox stores it: already in the JSON the INSERTs read, so the writer only joins
 * strings (no parsing on the consumer's thread).
 */
export interface EncodedBatch {
  /** Payments rows in the batch. */
  rows: number;
  /** The payments rows as JSON arrays separated by commas (no brackets; empty when none). */
  payments: string;
  /** The processing_metrics row as a JSON array. */
  metrics: string;
}

const enqueuedMsOf = (streamId: string) => Number(streamId.slice(0, streamId.indexOf("-")));

/** Encodes a batch for the outbox (see {@link EncodedBatch}). */
export function encodeBatch(b: OutboxBatch): EncodedBatch {
  const payments = b.rows.map(([streamId, tx, backend, amount, status, code, message, n]) => {
    const enqueuedMs = enqueuedMsOf(streamId);
    return JSON.stringify([
      tx,
      backend,
      amount,
      status,
      code,
      message,
      b.stream,
      streamId,
      b.consumer,
      n,
      b.processingMs,
      b.appliedMs - enqueuedMs,
      enqueuedMs,
      b.appliedMs,
    ]);
  }).join(",");
  const latencies = b.rows.map(([id]) => b.appliedMs - enqueuedMsOf(id));
  const rejected = b.rows.filter((r) => r[4] === "error").length;
  const metrics = JSON.stringify([
    b.id,
    b.consumer,
    b.stream,
    b.rows.length,
    b.rows.length - rejected,
    rejected,
    b.processingMs,
    latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length),
    Math.max(0, ...latencies),
    b.appliedMs,
  ]);
  return { rows: b.rows.length, payments, metrics };
}

// Rows in outbox order (n); per stream entry the first outcome, then per transaction id `done`
// first, else the first error.
const PAYMENT_ROWS = `
  WITH rows AS (
    SELECT r, n FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS t(r, n)
  ), first_per_entry AS (
    SELECT DISTINCT ON (r->>6, r->>7) r, n FROM rows ORDER BY r->>6, r->>7, n
  ), chosen AS (
    SELECT DISTINCT ON (coalesce(r->>0, r->>6 || '/' || (r->>7))) r
    FROM first_per_entry
    ORDER BY coalesce(r->>0, r->>6 || '/' || (r->>7)), (r->>3 = 'done') DESC, n
  )
  SELECT r->>0 AS transaction_id, r->>1 AS backend_id, (r->>2)::numeric(14, 2) AS amount,
         r->>3 AS status, (r->>4)::int AS error_code, r->>5 AS error_message, r->>6 AS stream,
         r->>7 AS stream_id, r->>8 AS consumer, (r->>9)::int AS deliveries,
         (r->>10)::float8 AS processing_ms, (r->>11)::float8 AS latency_ms,
         to_timestamp((r->>12)::float8 / 1000) AS enqueued_at,
         to_timestamp((r->>13)::float8 / 1000) AS processed_at
  FROM chosen`;

const COLUMNS = `transaction_id, backend_id, amount, status, error_code, error_message, stream,
  stream_id, consumer, deliveries, processing_ms, latency_ms, enqueued_at, processed_at`;

const EXCLUDED_COLUMNS = COLUMNS.split(",").map((c) => `EXCLUDED.${c.trim()}`).join(", ");

/** Writes `batches` in one transaction; resolves to the payments rows inserted or upgraded. */
export async function writeBatches(sql: Sql, batches: readonly EncodedBatch[]): Promise<number> {
  if (batches.length === 0) return 0;
  const payments = `[${batches.map((b) => b.payments).filter((p) => p !== "").join(",")}]`;
  const metrics = `[${batches.map((b) => b.metrics).join(",")}]`;
  const [withTx, withoutTx] = await sql.begin((tx) => [
    tx.unsafe(
      `INSERT INTO payments (${COLUMNS})
       SELECT * FROM (${PAYMENT_ROWS}) p WHERE transaction_id IS NOT NULL
       ON CONFLICT (transaction_id) DO UPDATE SET (${COLUMNS}, recorded_at) =
         ROW(${EXCLUDED_COLUMNS}, now())
       WHERE payments.status = 'error' AND EXCLUDED.status = 'done'
         AND (payments.stream, payments.stream_id) <> (EXCLUDED.stream, EXCLUDED.stream_id)`,
      [payments],
    ),
    tx.unsafe(
      `INSERT INTO payments (${COLUMNS})
       SELECT * FROM (${PAYMENT_ROWS}) p WHERE transaction_id IS NULL
       ON CONFLICT (stream, stream_id) WHERE transaction_id IS NULL DO NOTHING`,
      [payments],
    ),
    tx.unsafe(
      `WITH m AS (
         INSERT INTO processing_metrics (batch_id, consumer, stream, entries, accepted, rejected,
           processing_ms, avg_latency_ms, max_latency_ms, applied_at)
         SELECT (r->>0)::uuid, r->>1, r->>2, (r->>3)::int, (r->>4)::int, (r->>5)::int,
                (r->>6)::float8, (r->>7)::float8, (r->>8)::float8, to_timestamp((r->>9)::float8 / 1000)
         FROM jsonb_array_elements($1::text::jsonb) AS r
         ON CONFLICT (batch_id) DO NOTHING
         RETURNING *
       )
       INSERT INTO consumer_stats AS s (consumer, batches, processed, accepted, rejected,
         total_processing_ms, first_seen, last_active)
       SELECT consumer, count(*), sum(entries), sum(accepted), sum(rejected), sum(processing_ms),
              min(applied_at), max(applied_at)
       FROM m GROUP BY consumer
       ON CONFLICT (consumer) DO UPDATE SET
         batches = s.batches + EXCLUDED.batches,
         processed = s.processed + EXCLUDED.processed,
         accepted = s.accepted + EXCLUDED.accepted,
         rejected = s.rejected + EXCLUDED.rejected,
         total_processing_ms = s.total_processing_ms + EXCLUDED.total_processing_ms,
         first_seen = least(s.first_seen, EXCLUDED.first_seen),
         last_active = greatest(s.last_active, EXCLUDED.last_active)`,
      [metrics],
    ),
  ]);
  return withTx.count + withoutTx.count;
}
