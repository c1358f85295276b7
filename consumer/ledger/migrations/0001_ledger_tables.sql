-- The payment ledger: one row per transaction id (or, for messages without a usable one, per
-- stream entry), per-consumer statistics and per-batch processing metrics. Written by the
-- consumer's ledger writer, idempotently (see consumer/ledger/write_rows.ts).

CREATE TABLE payments (
  id             bigserial PRIMARY KEY,
  transaction_id text UNIQUE,                -- NULL when the message had no usable transaction_id
  backend_id     text,
  amount         numeric(14, 2),             -- NULL when the message's amount was unusable
  status         text NOT NULL CHECK (status IN ('done', 'error')),
  error_code     integer,
  error_message  text,
  stream         text NOT NULL,
  stream_id      text NOT NULL,
  consumer       text NOT NULL,
  deliveries     integer NOT NULL,
  processing_ms  double precision NOT NULL,  -- the consumer's time on the batch (steps + apply)
  latency_ms     double precision,           -- enqueued (stream id time) to applied
  enqueued_at    timestamptz,
  processed_at   timestamptz NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'error') = (error_code IS NOT NULL))
);
-- Messages without a transaction id are keyed by their stream entry.
CREATE UNIQUE INDEX payments_entry_without_tx ON payments (stream, stream_id)
  WHERE transaction_id IS NULL;
CREATE INDEX payments_processed_at ON payments (processed_at);
CREATE INDEX payments_errors ON payments (processed_at, error_code) WHERE status = 'error';

CREATE TABLE processing_metrics (
  batch_id       uuid PRIMARY KEY,
  consumer       text NOT NULL,
  stream         text NOT NULL,
  entries        integer NOT NULL,
  accepted       integer NOT NULL,           -- valid payments (confirmed or duplicate)
  rejected       integer NOT NULL,           -- dead-lettered
  processing_ms  double precision NOT NULL,
  avg_latency_ms double precision,
  max_latency_ms double precision,
  applied_at     timestamptz NOT NULL
);
CREATE INDEX processing_metrics_applied_at ON processing_metrics (applied_at);

CREATE TABLE consumer_stats (
  consumer            text PRIMARY KEY,
  batches             bigint NOT NULL,
  processed           bigint NOT NULL,
  accepted            bigint NOT NULL,
  rejected            bigint NOT NULL,
  total_processing_ms double precision NOT NULL,
  first_seen          timestamptz NOT NULL,
  last_active         timestamptz NOT NULL
);
