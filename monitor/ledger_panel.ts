/**
 * The PostgreSQL ledger's panel: what `deno task stats` prints, as rows (totals by status, the last
 * hour by status with average durations, top error codes, consumers with error rate and idle time).
 * @module
 */
import type { LedgerStats } from "@fastpix/consumer";
import { moreRows, type Panel } from "./panel.ts";
import { brl, duration, int, ms } from "./format.ts";

/** The ledger panel of `stats`. */
export function ledgerPanel(stats: LedgerStats): Panel {
  const rows: Panel["rows"] = [];
  for (const t of stats.totals) {
    rows.push({
      cells: [
        t.status,
        t.status === "done" ? `${int(t.payments)} · ${brl(t.amount)}` : int(t.payments),
      ],
    });
  }
  for (const r of stats.recent) {
    rows.push({
      cells: [
        `${r.status}, last hour`,
        `${int(r.payments)} · ${ms(r.avgProcessingMs)} · ${ms(r.avgLatencyMs)}`,
      ],
    });
  }
  for (const e of stats.topErrors) {
    rows.push({ cells: [`error ${e.code}, last hour`, int(e.occurrences)], alert: true });
  }
  for (const c of stats.consumers) {
    rows.push({
      cells: [
        c.consumer,
        `${int(c.processed)} · ${c.errorRatePct.toFixed(1)}% err · ${duration(c.idleS * 1000)} ago`,
      ],
    });
  }
  return {
    id: "ledger",
    head: ["Ledger (PostgreSQL)", "count · ms · enqueue ms"],
    align: ["left", "right"],
    rows,
    empty: "no payments recorded",
    fixed: false,
    cut: "middle",
    more: moreRows,
  };
}
