/**
 * The ledger rows a batch produces, as the outbox carries them: written by the outbox hook
 * (`outbox.ts`), encoded for PostgreSQL by `write_rows.ts`. Kept apart so neither imports the other
 * to reach them.
 * @module
 */

/**
 * One ledger row as the outbox carries it:
 * `[stream_id, transaction_id|null, backend_id|null, amount|null, status, error_code|null,
 *   error_message|null, deliveries]`.
 */
export type OutboxRow = [
  streamId: string,
  transactionId: string | null,
  backendId: string | null,
  amount: string | null,
  status: "done" | "error",
  errorCode: number | null,
  errorMessage: string | null,
  deliveries: number,
];

/** One outbox entry: a batch's rows and where, when and how fast it was processed. */
export interface OutboxBatch {
  /** UUIDv7 of the batch (the processing_metrics key). */
  id: string;
  stream: string;
  consumer: string;
  /** When the batch was applied (epoch ms). */
  appliedMs: number;
  /** The consumer's time on the batch, ms. */
  processingMs: number;
  rows: OutboxRow[];
}
