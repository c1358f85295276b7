import assert from "node:assert/strict";
import { renderPlain, renderScreen, type ScreenView } from "./render.ts";
import type { Snapshot } from "./snapshot.ts";
import { listProcessingKey, sourceListKey } from "@fastpix/pix";
import { brl, duration, fitMiddle } from "./format.ts";

/** A busy system: 3 consumers (one stalled), 1,000 response streams, dead letters, lists. */
function busy(): Snapshot {
  return {
    at: "2026-11-21T10:00:00.000Z",
    redisUrl: "redis://127.0.0.1:6379",
    stream: "pix_payments",
    group: "pix_consumers",
    idleThresholdMs: 5000,
    available: true,
    error: null,
    server: { version: "7.0.15", uptimeSeconds: 3725, usedMemoryBytes: 12_000_000 },
    counters: { processed: 1_234_567, totalBrl: "50007718.10", totalSource: "total_amount_cents" },
    streamInfo: {
      length: 10_000,
      lastGeneratedId: "1732183200000-12",
      firstEntryId: "1732183100000-0",
      lastEntryId: "1732183200000-12",
      entriesAdded: 1_244_567,
      memoryBytes: 2_400_000,
    },
    groups: [{
      name: "pix_consumers",
      pending: 260,
      lastDeliveredId: "1732183200000-12",
      entriesRead: 1_244_567,
      lag: 12,
      consumers: [
        { name: "consumer_host_1111", pending: 10, idleMs: 3, stalled: false },
        { name: "consumer_host_2222", pending: 0, idleMs: 9000, stalled: false },
        { name: "consumer_host_3333", pending: 250, idleMs: 61_000, stalled: true },
      ],
    }],
    processor: {
      groupExists: true,
      pending: 260,
      lag: 12,
      consumers: 3,
      activeConsumers: 1,
      stalledConsumers: 1,
    },
    responses: {
      prefix: "backend_bacen_response_",
      streams: Array.from({ length: 1000 }, (_, i) => ({
        key: `backend_bacen_response_${i + 1}`,
        backendId: String(i + 1),
        length: 100 + i,
        lastId: `1732183200000-${i}`,
      })),
      totalLength: 0,
      scanComplete: true,
    },
    dlq: {
      key: "pix_payments:dlq",
      length: 42,
      sampled: 42,
      topCodes: [
        { code: "1202", name: "AMOUNT_FORMAT", count: 30 },
        { code: "2001", name: "MAX_DELIVERIES_EXCEEDED", count: 10 },
        { code: "1302", name: "TIMESTAMP_INVALID", count: 2 },
      ],
    },
    latency: [
      {
        consumer: "consumer_host_1111",
        count: 900,
        p50: 1.2,
        p95: 4.5,
        p99: 9.87,
        max: 31,
        mean: 2,
        at: "",
        window: { seconds: 10, count: 120, p50: 0.9, p95: 2.5, p99: 3.75, max: 6.5, mean: 1 },
      },
      {
        consumer: "consumer_host_3333",
        count: 90,
        p50: 2,
        p95: 5,
        p99: 120,
        max: 1500,
        mean: 3,
        at: "",
      },
    ],
    lists: [
      { key: sourceListKey(0), kind: "source_list", length: 7 },
      { key: listProcessingKey("w1"), kind: "processing_list", length: 2 },
    ],
    notes: [],
    rounds: 1,
    durationMs: 3.4,
  };
}

const view = (columns: number, rows: number): ScreenView => ({
  columns,
  rows,
  color: false,
  intervalMs: 500,
  rate: 1234.4,
  rateWindowMs: 5000,
});

Deno.test("the screen fits 80x24 exactly and keeps every panel", () => {
  const lines = renderScreen(busy(), view(80, 23)).split("\n");
  assert.equal(lines.length, 23);
  for (const line of lines) assert.equal(line.length, 80, JSON.stringify(line));
  const text = lines.join("\n");
  for (
    const wanted of [
      "Processor",
      "1,234,567",
      "50,007,718.10",
      "1,234/s",
      "1/3 active, 1 stalled",
      "Stream",
      "1732183200000-12",
      "Dead letters 42",
      "1202 amount format",
      "Lists",
      "Groups / consumers",
      "STALLED",
      "Responses (1,000)",
      "Latency ms",
      "q quits",
    ]
  ) assert.ok(text.includes(wanted), `missing ${wanted}:\n${text}`);
  // 1,000 response streams do not fit: the rest is summarised on one row.
  assert.match(text, /… 9\d\d more/);
});

Deno.test("a bigger terminal shows more rows and wider names", () => {
  const small = renderScreen(busy(), view(80, 23));
  const big = renderScreen(busy(), view(160, 49));
  const lines = big.split("\n");
  assert.equal(lines.length, 49);
  for (const line of lines) assert.equal(line.length, 160);
  const backends = (text: string) => text.match(/backend \d+ /g)?.length ?? 0;
  assert.ok(backends(big) > backends(small) + 15, `${backends(big)} vs ${backends(small)}`);
  assert.ok(big.includes("└ consumer_host_3333"));
});

Deno.test("a narrow terminal stacks the panels in one column", () => {
  const lines = renderScreen(busy(), view(60, 30)).split("\n");
  assert.equal(lines.length, 30);
  for (const line of lines) assert.equal(line.length, 60);
  assert.ok(!lines.some((l) => l.includes("│")));
  // The consumers come right after the processor status.
  const at = (text: string) => lines.findIndex((l) => l.includes(text));
  assert.ok(at("Groups / consumers") > at("Processor") && at("Groups / consumers") < at("Stream"));
  // Cut for room, the stalled consumer is still counted on the summary row.
  assert.ok(lines.some((l) => /STALLED|\(1 stalled\)/.test(l)), lines.join("\n"));
});

Deno.test("stalled consumers stay visible when rows are cut", () => {
  const s = busy();
  s.groups[0].consumers = Array.from({ length: 30 }, (_, i) => ({
    name: `c${String(i).padStart(2, "0")}`,
    pending: i === 29 ? 5 : 0,
    idleMs: i === 29 ? 60_000 : 1,
    stalled: i === 29,
  }));
  const text = renderScreen(s, view(80, 23));
  assert.match(text, /└ c29 +5 +1m 00s STALLED/);
});

Deno.test("an outage keeps the last data, marked stale, and says Redis is unavailable", () => {
  const lastGood = busy();
  const down: Snapshot = {
    ...busy(),
    at: "2026-11-21T10:00:05.000Z",
    available: false,
    error: "connect ECONNREFUSED 127.0.0.1:6379",
  };
  const text = renderScreen(down, { ...view(100, 30), lastGood });
  const lines = text.split("\n");
  assert.match(lines[0], /\(data from \d\d:\d\d:\d\d\)/);
  assert.match(
    lines.at(-1)!,
    /Redis unavailable: connect ECONNREFUSED .* retrying every 500 ms/,
  );
  assert.ok(text.includes("1,234,567"));
});

Deno.test("colours are escape codes only when asked for", () => {
  assert.ok(!renderScreen(busy(), view(80, 23)).includes("\x1b["));
  assert.ok(renderScreen(busy(), { ...view(80, 23), color: true }).includes("\x1b["));
  assert.ok(!renderPlain(busy(), { rateWindowMs: 500 }).includes("\x1b["));
});

Deno.test("the plain listing has every row", () => {
  const text = renderPlain(busy(), { rate: 10, rateWindowMs: 500 });
  assert.equal(text.match(/│ backend \d+ /g)?.length, 1000);
  assert.match(text, /│ └ consumer_host_3333 │ +250 │ +1m 01s │ STALLED │/);
  assert.match(text, /│ total BRL +│ +50,007,718\.10 │/);
});

Deno.test("the latency panel shows a consumer's last 10 s, labelled, under its since-start row", () => {
  const s = busy();
  const plain = renderPlain(s, { rateWindowMs: 500 });
  assert.match(
    plain,
    /│ consumer_host_1111 +│ +1\.20 │ +4\.50 │ +9\.87 │ +31\.0 │\n│ └ last 10 s +│ +0\.90 │ +2\.50 │ +3\.75 │ +6\.50 │/,
  );
  // A consumer that publishes no window (an older version) has no such row.
  assert.equal(plain.match(/last 10 s/g)?.length, 1);
  assert.match(renderScreen(s, view(120, 40)), /└ last 10 s +0\.90 +2\.50 +3\.75 +6\.50$/m);
  // Nothing confirmed in the last 10 s: dashes, not zeros.
  s.latency[0].window = { seconds: 10, count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  assert.match(renderPlain(s, { rateWindowMs: 500 }), /│ └ last 10 s +│ +— │ +— │ +— │ +— │/);
});

Deno.test("formatting helpers", () => {
  assert.equal(brl("50007718.10"), "50,007,718.10");
  assert.equal(brl("999.99"), "999.99");
  assert.equal(brl("-1234567.00"), "-1,234,567.00");
  assert.equal(duration(850), "850 ms");
  assert.equal(duration(12_040), "12.0 s");
  assert.equal(duration(185_000), "3m 05s");
  assert.equal(duration(7_380_000), "2h 03m");
  assert.equal(fitMiddle("consumer_host_12345", 11), "consu…12345");
  assert.equal(fitMiddle("short", 11), "short");
});
