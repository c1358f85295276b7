/**
 * Prints an injection report as an aligned table.
 * @module
 */
import Table from "cli-table3";
import type { InjectReport } from "./injector.ts";

const n = (x: number) => Math.round(x).toLocaleString("en-US");

/** Prints `report` to stdout as a two-column table. */
export function printReport(report: InjectReport): void {
  const table = new Table({ head: ["injection", report.design], style: { head: [], border: [] } });
  table.push(
    ["sent", n(report.sent)],
    ["sent amount (BRL)", report.sentAmount],
    ["send rate (payments/s)", n(report.sendRate)],
  );
  if (report.offeredRate !== null) table.push(["offered rate (payments/s)", n(report.offeredRate)]);
  if (report.latency !== null) {
    const l = report.latency;
    table.push(
      ["confirmed", n(report.confirmed)],
      ["confirmed amount (BRL)", report.confirmedAmount],
      ["duplicates / rejected", `${report.duplicates} / ${report.rejected}`],
      ["unanswered", n(report.unanswered)],
      ["end-to-end (payments/s)", n(report.endToEndRate)],
      ["latency p50 / p95 / p99 (ms)", `${l.p50} / ${l.p95} / ${l.p99}`],
      ["latency max (ms)", String(l.max)],
    );
  }
  table.push(["duration (s)", report.durationS.toFixed(2)]);
  console.log(table.toString());
}
