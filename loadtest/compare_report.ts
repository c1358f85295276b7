/**
 * The comparison's outputs: an aligned terminal table and a self-contained HTML report (inline
 * CSS and SVG charts, no external assets).
 * @module
 */
import Table from "cli-table3";
import { formatCount as n, formatNumber } from "@fastpix/pix";
import type { CompareResult, DesignResult } from "./compare.ts";

const tput = (r: DesignResult, i: number) => r.throughput[i] ? n(r.throughput[i].perSecond) : "-";

/** The header row and one row per design, as plain strings (shared by the table and the HTML). */
export function comparisonRows(result: CompareResult): { head: string[]; rows: string[][] } {
  const o = result.options;
  const head = [
    "design",
    "1 consumer (pay/s)",
    `${o.consumers} consumers (pay/s)`,
    `p50 / p95 / p99 / max ms @ ${n(o.rate)}/s`,
    "crash: held",
    "lost",
    "processed twice",
    "recovered",
    "MB per 100k queued",
  ];
  const rows = result.results.map((r) => {
    const l = r.latency;
    const approx = l.method === "processed_count" ? "≈ " : "";
    return [
      r.design,
      tput(r, 0),
      tput(r, 1),
      `${approx}${[l.p50, l.p95, l.p99, l.max].map((x) => formatNumber(x)).join(" / ")}`,
      r.crash.held === null ? "not recorded" : n(r.crash.held),
      n(r.crash.lost),
      n(r.crash.processedTwice),
      n(r.crash.recovered),
      formatNumber(r.memory.mbPer100k, 2),
    ];
  });
  return { head, rows };
}

/** Notes printed under the table: method caveats and the machine. */
export function comparisonNotes(result: CompareResult): string[] {
  const m = result.machine;
  const o = result.options;
  const notes = [
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.os}, Deno ${m.deno}, Redis ${m.redis}, load average at start ${
      m.loadAverage.join(" ")
    }`,
    `throughput: median of ${o.repeat} run(s) of ${n(o.payments)} payments after ${
      n(o.warmup)
    } warm-up payments; latency: ${n(o.latencyPayments)} payments offered at ${
      n(o.rate)
    }/s to ${o.consumers} consumers`,
    `crash: ${
      n(o.crashPayments)
    } payments; the victim settles each batch for ${o.crashSettleMs} ms and is SIGKILLed holding one; a replacement drains the queue (IDLE_THRESHOLD_MS ${o.idleThresholdMs})`,
  ];
  const perRun = (f: (t: DesignResult["throughput"][number]) => number | null) =>
    result.results.map((r) => `${r.design} ${r.throughput.map(f).join(" / ")}`).join(", ");
  notes.push(
    `CPU during the max-speed runs, cores busy (1 / ${o.consumers} consumers): Redis ${
      perRun((t) => t.redisCpu)
    }; consumers ${perRun((t) => t.consumerCpu)}`,
    `consumer CPU ms per 1000 payments (1 / ${o.consumers} consumers): ${
      perRun((t) => t.consumerCpuMsPer1000)
    }`,
  );
  if (result.results.some((r) => r.latency.method === "processed_count")) {
    notes.push(
      "≈ basic sends no confirmations: its latency is estimated from processed_count polled every ms",
    );
  }
  if (result.results.some((r) => r.crash.held === null)) {
    notes.push("not recorded: a plain list keeps no trace of popped payloads (that is its loss)");
  }
  for (const r of result.results) {
    if (r.crash.timedOut) notes.push(`${r.design}: the crash run did not drain in time`);
    if (!r.crash.countersAgree) {
      notes.push(`${r.design}: the counters disagree with the per-payment ledger`);
    }
  }
  return notes;
}

/** The aligned terminal table. */
export function comparisonTable(result: CompareResult): string {
  const { head, rows } = comparisonRows(result);
  const table = new Table({ head, style: { head: [], border: [] } });
  table.push(...rows);
  return table.toString();
}

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2"];

/** The smallest 1, 2, 2.5 or 5 times a power of ten at or above `v`, for round axis ticks. */
function niceCeil(v: number): number {
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((x) => x >= v)!;
}

interface Series {
  name: string;
  values: number[];
}

/** A grouped bar chart as inline SVG; `log` draws a log10 axis (latencies span decades). */
export function barChart(
  title: string,
  categories: string[],
  series: Series[],
  options: { unit: string; log?: boolean },
): string {
  const width = 760, height = 300, left = 70, bottom = 40, top = 30;
  const plotH = height - top - bottom, plotW = width - left - 20;
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const maxV = Math.max(1, ...all);
  const minV = options.log ? Math.min(maxV / 10, ...all) : 0;
  const lo = options.log ? Math.floor(Math.log10(Math.max(minV, 1e-3))) : 0;
  const hi = options.log ? Math.ceil(Math.log10(maxV)) : niceCeil(maxV * 1.05);
  const y = (v: number) => {
    const t = options.log ? (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo || 1) : v / hi;
    return top + plotH * (1 - t);
  };
  const ticks = options.log
    ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i))
    : Array.from({ length: 5 }, (_, i) => (hi * i) / 4);
  const groupW = plotW / categories.length;
  const barW = Math.min(40, (groupW * 0.8) / series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${
      escape(title)
    }">`,
    `<text x="${left}" y="18" class="title">${escape(title)}</text>`,
  ];
  for (const t of ticks) {
    const label = t >= 1000 ? n(t) : String(Math.round(t * 1000) / 1000);
    parts.push(
      `<line x1="${left}" x2="${width - 20}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`,
      `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end" class="tick">${label}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${
      top + plotH / 2
    })" text-anchor="middle" class="tick">${escape(options.unit)}</text>`,
  );
  categories.forEach((cat, ci) => {
    const x0 = left + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const x = x0 + si * barW, yv = y(v);
      parts.push(
        `<rect x="${x}" y="${yv}" width="${barW - 2}" height="${top + plotH - yv}" fill="${
          COLORS[si % COLORS.length]
        }"><title>${escape(`${cat} ${s.name}: ${v} ${options.unit}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${left + ci * groupW + groupW / 2}" y="${
        height - bottom + 18
      }" text-anchor="middle" class="cat">${escape(cat)}</text>`,
    );
  });
  series.forEach((s, si) => {
    const x = left + si * 130;
    parts.push(
      `<rect x="${x}" y="${height - 14}" width="10" height="10" fill="${
        COLORS[si % COLORS.length]
      }"/>`,
      `<text x="${x + 14}" y="${height - 5}" class="tick">${escape(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** The self-contained HTML report. */
export function comparisonHtml(result: CompareResult): string {
  const { head, rows } = comparisonRows(result);
  const designs = result.results.map((r) => r.design);
  const o = result.options;
  const throughput = barChart(
    "Throughput at max speed",
    designs,
    [
      { name: "1 consumer", values: result.results.map((r) => r.throughput[0]?.perSecond ?? 0) },
      {
        name: `${o.consumers} consumers`,
        values: result.results.map((r) => r.throughput[1]?.perSecond ?? 0),
      },
    ],
    { unit: "payments/s" },
  );
  const latency = barChart(
    `Latency at ${n(o.rate)} payments/s offered (log scale)`,
    designs,
    (["p50", "p95", "p99", "max"] as const).map((p) => ({
      name: p,
      values: result.results.map((r) => r.latency[p]),
    })),
    { unit: "ms", log: true },
  );
  const crash = barChart(
    "Crash run: what happened to the payments the killed consumer held",
    designs,
    [
      { name: "lost", values: result.results.map((r) => r.crash.lost) },
      { name: "processed twice", values: result.results.map((r) => r.crash.processedTwice) },
      { name: "recovered", values: result.results.map((r) => r.crash.recovered) },
    ],
    { unit: "payments" },
  );
  const memory = barChart(
    "Redis memory per 100k queued payments",
    designs,
    [{ name: "MB", values: result.results.map((r) => r.memory.mbPer100k) }],
    { unit: "MB" },
  );
  const table = `<table><thead><tr>${head.map((h) => `<th>${escape(h)}</th>`).join("")}</tr></thead>
<tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`).join("\n")
  }</tbody></table>`;
  const notes = comparisonNotes(result).map((s) => `<li>${escape(s)}</li>`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>fastpix: FIFO lists vs streams</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 900px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { width: 100%; height: auto; margin: 1em 0; }
.title { font-weight: 600; font-size: 14px; } .tick { font-size: 11px; fill: #555; }
.cat { font-size: 12px; } .grid { stroke: #e5e5e5; }
code { background: #f4f4f4; padding: 0 3px; }
</style></head><body>
<h1>FIFO lists vs streams</h1>
<p>Generated ${escape(result.at)} by <code>${escape(result.command)}</code>.</p>
${table}
<ul>${notes}</ul>
${throughput}
${latency}
${crash}
${memory}
</body></html>
`;
}
