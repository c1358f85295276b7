/**
 * Prints an injection report as an aligned table.
 * @module
 */
import Table from "cli-table3";
import { formatCount as n, formatDecimal, formatNumber } from "@fastpix/pix";
import type { InjectReport } from "./injector.ts";

/** Prints `report` to stdout as a two-column table. */
export function printReport(report: InjectReport): void {
  const table = new Table({ head: ["injection", report.design], style: { head: [], border: [] } });
  table.push(
    ["sent", n(report.sent)],
    ["sent amount (BRL)", formatDecimal(report.sentAmount)],
    ["send rate (payments/s)", n(report.sendRate)],
  );
  if (report.offeredRate !== null) table.push(["offered rate (payments/s)", n(report.offeredRate)]);
  if (report.latency !== null) {
    const l = report.latency;
    table.push(
      ["confirmed", n(report.confirmed)],
      ["confirmed amount (BRL)", formatDecimal(report.confirmedAmount)],
      ["duplicates / rejected", `${n(report.duplicates)} / ${n(report.rejected)}`],
      ["unanswered", n(report.unanswered)],
      ["end-to-end (payments/s)", n(report.endToEndRate)],
      [
        "latency p50 / p95 / p99 (ms)",
        [l.p50, l.p95, l.p99].map((x) => formatNumber(x)).join(" / "),
      ],
      ["latency max (ms)", formatNumber(l.max)],
    );
  }
  table.push(["duration (s)", formatNumber(report.durationS, 2)]);
  console.log(table.toString());
}
