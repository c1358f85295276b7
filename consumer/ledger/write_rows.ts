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
import type { OutboxBatch } from "./types.ts";
import type { Sql } from "./postgres.ts";
import { idTimeMs } from "@fastpix/infra";

/**
 * A batch as the outbox stores it: already in the JSON the INSERTs read, so the writer only joins
 * strings (no parsing on the consumer's thread).
 */
export interface EncodedBatch {
  /** Payments rows in the batch. */
  rows: number;
  /** Rows with a transaction id, as JSON arrays separated by commas (no brackets; may be empty). */
  payments: string;
  /** Rows without a usable transaction id (keyed by stream entry), the same way (usually empty). */
  untracked: string;
  /** The processing_metrics row as a JSON array. */
  metrics: string;
}

/**
 * Encodes a batch for the outbox (see {@link EncodedBatch}). Hot path: rows are built as strings;
 * only the values that may hold quotes (error messages, stream and consumer names) go through
 * JSON.stringify. Transaction ids, backend ids, amounts and stream ids are of safe alphabets.
 */
export function encodeBatch(b: OutboxBatch): EncodedBatch {
  const tail = `${JSON.stringify(b.stream)},`;
  const consumer = JSON.stringify(b.consumer);
  const tracked: string[] = [];
  const untracked: string[] = [];
  let latencySum = 0;
  let latencyMax = 0;
  let rejected = 0;
  for (const [streamId, tx, backend, amount, status, code, message, n] of b.rows) {
    const enqueuedMs = idTimeMs(streamId);
    const latency = b.appliedMs - enqueuedMs;
    latencySum += latency;
    latencyMax = Math.max(latencyMax, latency);
    if (status === "error") rejected++;
    const row = `[${tx === null ? "null" : `"${tx}"`},${
      backend === null ? "null" : `"${backend}"`
    },${amount === null ? "null" : `"${amount}"`},"${status}",${code},${
      message === null ? "null" : JSON.stringify(message)
    },${tail}"${streamId}",${consumer},${n},${b.processingMs},${latency},${enqueuedMs},${b.appliedMs}]`;
    (tx === null ? untracked : tracked).push(row);
  }
  const metrics = JSON.stringify([
    b.id,
    b.consumer,
    b.stream,
    b.rows.length,
    b.rows.length - rejected,
    rejected,
    b.processingMs,
    latencySum / Math.max(1, b.rows.length),
    latencyMax,
    b.appliedMs,
  ]);
  return {
    rows: b.rows.length,
    payments: tracked.join(","),
    untracked: untracked.join(","),
    metrics,
  };
}

const SELECT_ROW = `r->>0, r->>1, (r->>2)::numeric(14, 2), r->>3, (r->>4)::int, r->>5, r->>6,
  r->>7, r->>8, (r->>9)::int, (r->>10)::float8, (r->>11)::float8,
  to_timestamp((r->>12)::float8 / 1000), to_timestamp((r->>13)::float8 / 1000)`;

/** Every row as it comes (the fast path: no transaction id twice in one write). */
const ALL_ROWS = `SELECT ${SELECT_ROW} FROM jsonb_array_elements($1::text::jsonb) AS r`;

/**
 * Rows deduplicated (when a transaction id comes twice in one write): per stream entry its first
 * outcome, then per transaction id `done` first, else the first error.
 */
const DEDUPLICATED_ROWS = `
  WITH rows AS (
    SELECT r, n FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS t(r, n)
  ), first_per_entry AS (
    SELECT DISTINCT ON (r->>6, r->>7) r, n FROM rows ORDER BY r->>6, r->>7, n
  ), chosen AS (
    SELECT DISTINCT ON (r->>0) r FROM first_per_entry ORDER BY r->>0, (r->>3 = 'done') DESC, n
  )
  SELECT ${SELECT_ROW} FROM chosen`;

const COLUMNS = `transaction_id, backend_id, amount, status, error_code, error_message, stream,
  stream_id, consumer, deliveries, processing_ms, latency_ms, enqueued_at, processed_at`;

const EXCLUDED_COLUMNS = COLUMNS.split(",").map((c) => `EXCLUDED.${c.trim()}`).join(", ");

/** Writes `batches` in one transaction; resolves to the payments rows inserted or upgraded. */
export async function writeBatches(sql: Sql, batches: readonly EncodedBatch[]): Promise<number> {
  if (batches.length === 0) return 0;
  const join = (part: (b: EncodedBatch) => string) =>
    `[${batches.map(part).filter((p) => p !== "").join(",")}]`;
  const json = { tracked: join((b) => b.payments), untracked: join((b) => b.untracked) };
  try {
    return await writeOnce(sql, json, join((b) => b.metrics), ALL_ROWS);
  } catch (error) {
    // 21000: ON CONFLICT DO UPDATE met one transaction id twice; write again, deduplicated.
    if ((error as { code?: string })?.code !== "21000") throw error;
    return await writeOnce(sql, json, join((b) => b.metrics), DEDUPLICATED_ROWS);
  }
}

async function writeOnce(
  sql: Sql,
  rows: { tracked: string; untracked: string },
  metrics: string,
  select: string,
): Promise<number> {
  const results = await sql.begin((tx) => [
    tx.unsafe(
      `INSERT INTO payments (${COLUMNS}) ${select}
       ON CONFLICT (transaction_id) DO UPDATE SET (${COLUMNS}, recorded_at) =
         ROW(${EXCLUDED_COLUMNS}, now())
       WHERE payments.status = 'error' AND EXCLUDED.status = 'done'
         AND (payments.stream, payments.stream_id) <> (EXCLUDED.stream, EXCLUDED.stream_id)`,
      [rows.tracked],
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
    // Rows without a transaction id: keyed by their stream entry (duplicates are simply skipped).
    ...(rows.untracked === "[]" ? [] : [tx.unsafe(
      `INSERT INTO payments (${COLUMNS}) ${ALL_ROWS}
       ON CONFLICT (stream, stream_id) WHERE transaction_id IS NULL DO NOTHING`,
      [rows.untracked],
    )]),
  ]);
  return results[0].count + (results[2]?.count ?? 0);
}
