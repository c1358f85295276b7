-- Views the stats command and the monitor read.

CREATE VIEW ledger_totals AS
SELECT status, count(*) AS payments, coalesce(sum(amount), 0) AS amount
FROM payments
GROUP BY status;

CREATE VIEW ledger_recent_activity AS
SELECT status,
       count(*) AS payments,
       avg(processing_ms) AS avg_processing_ms,
       avg(latency_ms) AS avg_latency_ms
FROM payments
WHERE processed_at > now() - interval '1 hour'
GROUP BY status;

CREATE VIEW ledger_top_errors AS
SELECT error_code,
       count(*) AS occurrences,
       (array_agg(error_message ORDER BY processed_at DESC))[1] AS last_message,
       max(processed_at) AS last_seen
FROM payments
WHERE status = 'error' AND processed_at > now() - interval '1 hour'
GROUP BY error_code;

CREATE VIEW ledger_consumer_performance AS
SELECT consumer,
       batches,
       processed,
       accepted,
       rejected,
       round(100.0 * rejected / nullif(processed, 0), 2) AS error_rate_pct,
       total_processing_ms / nullif(batches, 0) AS avg_batch_ms,
       first_seen,
       last_active,
       extract(epoch FROM now() - last_active) AS idle_s
FROM consumer_stats;

CREATE VIEW ledger_throughput_by_minute AS
SELECT date_trunc('minute', applied_at) AS minute,
       count(*) AS batches,
       sum(entries) AS entries,
       sum(rejected) AS rejected,
       avg(processing_ms) AS avg_batch_ms,
       avg(avg_latency_ms) AS avg_latency_ms
FROM processing_metrics
GROUP BY 1;
