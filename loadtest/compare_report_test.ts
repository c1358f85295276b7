import assert from "node:assert/strict";
import type { CompareResult, DesignResult } from "./compare.ts";
import { compareDefaults } from "./compare.ts";
import { barChart, comparisonHtml, comparisonRows, comparisonTable } from "./compare_report.ts";

function design(name: DesignResult["design"], overrides: Partial<DesignResult> = {}): DesignResult {
  return {
    design: name,
    throughput: [
      {
        consumers: 1,
        payments: 1000,
        seconds: 0.1,
        perSecond: 10_000,
        redisCpu: 0.9,
        consumerCpu: 1,
        consumerCpuMsPer1000: 50,
        samples: [10_000],
      },
      {
        consumers: 2,
        payments: 1000,
        seconds: 0.05,
        perSecond: 20_000,
        redisCpu: 1,
        consumerCpu: 1.5,
        consumerCpuMsPer1000: 60,
        samples: [20_000],
      },
    ],
    latency: {
      offeredRate: 500,
      payments: 500,
      consumers: 2,
      method: "confirmations",
      p50: 1.5,
      p95: 3,
      p99: 4,
      max: 9,
      mean: 2,
      unanswered: 0,
    },
    crash: {
      sent: 600,
      held: 100,
      lost: 0,
      processedTwice: 0,
      recovered: 100,
      duplicateConfirmations: 0,
      countersAgree: true,
      source: "confirmations",
      settleMs: 200,
      idleThresholdMs: 1000,
      drainSeconds: 2,
      timedOut: false,
    },
    memory: {
      payments: 1000,
      bytes: 150_000,
      usedMemoryDelta: 160_000,
      bytesPerPayment: 150,
      mbPer100k: 15,
    },
    ...overrides,
  }; // deno-fmt-ignore
}

const result: CompareResult = {
  at: "2026-11-21T10:00:00.000Z",
  command: "deno task compare-fifo-vs-stream --quick",
  machine: { cpus: 2, cpuModel: "x", os: "linux", deno: "2", redis: "7.0.15", loadAverage: [1] },
  options: { ...compareDefaults(true) },
  results: [
    design("stream"),
    design("basic", {
      latency: { ...design("basic").latency, method: "processed_count" },
      crash: { ...design("basic").crash, held: 1, recovered: 1, source: "consumer group" },
    }),
    design("list", { crash: { ...design("list").crash, held: null, lost: 100, recovered: 0 } }),
  ],
};

Deno.test("the table has a row per design with the crash ledger and approximations marked", () => {
  const { head, rows } = comparisonRows(result);
  assert.equal(head[2], "2 consumers (pay/s)");
  assert.deepEqual(rows.map((r) => r[0]), ["stream", "basic", "list"]);
  assert.deepEqual(rows[0], [
    "stream",
    "10,000",
    "20,000",
    "1.5 / 3 / 4 / 9",
    "100",
    "0",
    "0",
    "100",
    "15.00",
  ]); // deno-fmt-ignore
  assert.match(rows[1][3], /^≈ /);
  assert.deepEqual(rows[2].slice(4, 8), ["not recorded", "100", "0", "0"]);
  assert.match(comparisonTable(result), /│ list +│/);
});

Deno.test("the HTML report is self-contained, escaped, with one chart per measure", () => {
  const html = comparisonHtml({ ...result, command: "deno task x --designs <b>" });
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
  assert.match(html, /&lt;b&gt;/);
  assert.doesNotMatch(html, /<b>|<script|<link/);
});

Deno.test("bar heights follow the values; the log scale spans the decades", () => {
  const svg = barChart("t", ["a", "b"], [{ name: "s", values: [100, 50] }], { unit: "u" });
  const heights = [...svg.matchAll(/<rect [^>]*height="([\d.]+)"[^>]*fill/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(heights.length, 3); // two bars and the legend swatch
  assert.ok(Math.abs(heights[0] / heights[1] - 2) < 1e-9);
  const log = barChart("t", ["a"], [{ name: "s", values: [0.5, 2000] }], { unit: "ms", log: true });
  for (const tick of [">0.1<", ">1<", ">10<", ">100<", ">1,000<", ">10,000<"]) {
    assert.ok(log.includes(tick), tick);
  }
});
