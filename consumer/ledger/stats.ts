/**
 * The ledger's statistics, read from its views: totals by status, the last hour's activity with
 * average durations, the top error codes, and each consumer's performance. Printed by
 * `deno task stats`; the monitor shows the same.
 * @module
 */
import { formatCount as n, formatDecimal, formatMs as ms } from "@fastpix/pix";
import { Postgres, type PostgresTimeouts, type Sql } from "./postgres.ts";

/** Everything `deno task stats` shows. */
export interface LedgerStats {
  totals: { status: string; payments: number; amount: string }[];
  /** The last hour, by status. */
  recent: { status: string; payments: number; avgProcessingMs: number; avgLatencyMs: number }[];
  /** The last hour's most frequent error codes. */
  topErrors: { code: number; occurrences: number; lastMessage: string }[];
  consumers: {
    consumer: string;
    processed: number;
    rejected: number;
    errorRatePct: number;
    avgBatchMs: number;
    lastActive: Date;
    idleS: number;
  }[];
}

/** Reads {@link LedgerStats} from the views (migration 0002). */
export async function readLedgerStats(
  sql: Sql,
  options: { top?: number } = {},
): Promise<LedgerStats> {
  const [totals, recent, errors, consumers] = await Promise.all([
    sql`SELECT status, payments, amount::text AS amount FROM ledger_totals ORDER BY status`,
    sql`SELECT status, payments, avg_processing_ms, avg_latency_ms
        FROM ledger_recent_activity ORDER BY status`,
    sql`SELECT error_code, occurrences, last_message FROM ledger_top_errors
        ORDER BY occurrences DESC, error_code LIMIT ${options.top ?? 5}`,
    sql`SELECT consumer, processed, rejected, error_rate_pct, avg_batch_ms, last_active, idle_s
        FROM ledger_consumer_performance ORDER BY processed DESC, consumer`,
  ]);
  return {
    totals: totals.map((r) => ({
      status: r.status,
      payments: Number(r.payments),
      amount: r.amount,
    })),
    recent: recent.map((r) => ({
      status: r.status,
      payments: Number(r.payments),
      avgProcessingMs: Number(r.avg_processing_ms),
      avgLatencyMs: Number(r.avg_latency_ms),
    })),
    topErrors: errors.map((r) => ({
      code: Number(r.error_code),
      occurrences: Number(r.occurrences),
      lastMessage: r.last_message,
    })),
    consumers: consumers.map((r) => ({
      consumer: r.consumer,
      processed: Number(r.processed),
      rejected: Number(r.rejected),
      errorRatePct: Number(r.error_rate_pct ?? 0),
      avgBatchMs: Number(r.avg_batch_ms ?? 0),
      lastActive: new Date(r.last_active),
      idleS: Number(r.idle_s),
    })),
  };
}

/** How long ago, roughly: `15s`, `3m`, `2h`. */
function ago(seconds: number): string {
  if (seconds < 120) return `${Math.max(0, Math.round(seconds))}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

/** The report as the seed's monitor prints it. */
export function formatLedgerStats(stats: LedgerStats): string {
  const lines: string[] = [];
  const total = stats.totals.reduce((s, t) => s + t.payments, 0);
  const of = (status: string) => stats.totals.find((t) => t.status === status);
  lines.push("💾 LEDGER (PostgreSQL):", `Total payments: ${n(total)}`);
  lines.push(
    `  ✅ Done: ${n(of("done")?.payments ?? 0)} (amount ${
      formatDecimal(of("done")?.amount ?? "0.00")
    })`,
  );
  lines.push(`  ❌ Error: ${n(of("error")?.payments ?? 0)}`);
  lines.push("", "📈 RECENT ACTIVITY (1 hour):");
  if (stats.recent.length === 0) lines.push("none");
  for (const r of stats.recent) {
    lines.push(
      `${r.status.toUpperCase()}: ${n(r.payments)} payments, avg ${
        ms(r.avgProcessingMs)
      } ms processing, ${ms(r.avgLatencyMs)} ms from enqueue`,
    );
  }
  lines.push("", "🚨 TOP ERRORS (1 hour):");
  if (stats.topErrors.length === 0) lines.push("none");
  for (const e of stats.topErrors) {
    lines.push(`Code ${e.code}: ${n(e.occurrences)} times`, `  Message: ${e.lastMessage}`);
  }
  lines.push("", "🏃 CONSUMER PERFORMANCE:");
  if (stats.consumers.length === 0) lines.push("none");
  for (const c of stats.consumers) {
    lines.push(
      `Consumer: ${c.consumer}`,
      `  Processed: ${n(c.processed)}`,
      `  Error rate: ${c.errorRatePct.toFixed(1)}%`,
      `  Avg batch: ${ms(c.avgBatchMs)} ms`,
      `  Last active: ${ago(c.idleS)} ago`,
    );
  }
  return lines.join("\n");
}

/**
 * A reader of {@link LedgerStats} for a refreshing display (the monitor): it queries at most every
 * `everyMs` and answers the last result in between; `undefined` while PostgreSQL does not answer
 * (within the connect and statement timeouts).
 */
export function ledgerStatsReader(
  dsn: string,
  everyMs = 2000,
  timeouts: Partial<PostgresTimeouts> = {},
): { read: () => Promise<LedgerStats | undefined>; close: () => Promise<void> } {
  const db = new Postgres(dsn, { timeouts });
  let last: LedgerStats | undefined;
  let readAt = -Infinity;
  return {
    async read() {
      if (Date.now() - readAt < everyMs) return last;
      readAt = Date.now();
      last = await db.run((sql) => readLedgerStats(sql)).catch(() => undefined);
      return last;
    },
    close: () => db.end(1000),
  };
}
