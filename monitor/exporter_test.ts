import assert from "node:assert/strict";
import { parsePrometheusText, sampleValue } from "@fastpix/gateway";
import { OTHER_BACKEND, renderQueueMetrics } from "./exporter.ts";
import { codeLabel, DlqCodeCounter } from "./dlq_codes.ts";
import type { ConsumerInfo, Snapshot } from "./snapshot.ts";

const NOW = Date.parse("2026-11-21T10:00:00.000Z");

/** 1,000 response streams, 150 consumers (2 stalled, sorted last by name), lists, windows. */
function busy(): Snapshot {
  const consumers: ConsumerInfo[] = Array.from({ length: 150 }, (_, i) => ({
    name: `c${String(i).padStart(3, "0")}`,
    pending: 1,
    idleMs: 10,
    stalled: false,
  }));
  consumers.push({ name: "zz_stalled_1", pending: 5, idleMs: 60_000, stalled: true });
  consumers.push({ name: 'zz "odd"\\name\n', pending: 2, idleMs: 70_000, stalled: true });
  consumers.push({ name: "zz_idle", pending: 0, idleMs: 90_000, stalled: false });
  const window = { seconds: 10, count: 20, p50: 1.5, p95: 30, p99: 250, max: 1200, mean: 9 };
  return {
    at: new Date(NOW).toISOString(),
    redisUrl: "redis://127.0.0.1:6379",
    stream: "pix_payments",
    group: "pix_consumers",
    idleThresholdMs: 5000,
    available: true,
    error: null,
    server: { version: "7.0.15", uptimeSeconds: 10, usedMemoryBytes: 12_000_000 },
    counters: { processed: 1234, totalBrl: "50007718.10", totalSource: "total_amount_cents" },
    streamInfo: {
      length: 10,
      lastGeneratedId: `${NOW - 2500}-3`,
      firstEntryId: null,
      lastEntryId: null,
      entriesAdded: 99,
      memoryBytes: 4096,
    },
    groups: [
      {
        name: "audit",
        pending: 0,
        lastDeliveredId: "0-0",
        entriesRead: null,
        lag: null,
        consumers: [],
        oldestPending: null,
      },
      {
        name: "pix_consumers",
        pending: 157,
        lastDeliveredId: "0-0",
        entriesRead: 80,
        lag: 19,
        consumers,
        oldestPending: {
          id: `${NOW - 30_000}-0`,
          consumer: "zz_stalled_1",
          ageMs: 30_000,
          idleMs: 20_000,
          deliveries: 2,
        },
      },
    ],
    processor: {
      groupExists: true,
      pending: 157,
      lag: 19,
      consumers: 153,
      activeConsumers: 150,
      stalledConsumers: 2,
    },
    responses: {
      prefix: "backend_bacen_response_",
      streams: Array.from({ length: 1000 }, (_, i) => ({
        key: `backend_bacen_response_${i + 1}`,
        backendId: String(i + 1),
        length: i + 1,
        lastId: "1-1",
      })),
      totalLength: 500_500,
      scanComplete: true,
    },
    dlq: {
      key: "pix_payments:dlq",
      length: 6,
      sampled: 6,
      topCodes: [],
      entriesAdded: 9,
      codes: [
        { code: "1202", name: "AMOUNT_FORMAT", count: 4 },
        { code: "other", name: null, count: 2 },
      ],
    },
    latency: [
      { consumer: "fresh", count: 50, p50: 1, p95: 2, p99: 3, max: 4, mean: 1, at: "", window },
      {
        consumer: "gone",
        count: 50,
        p50: 1,
        p95: 2,
        p99: 3,
        max: 4,
        mean: 1,
        at: new Date(NOW - 120_000).toISOString(),
        window,
      },
      {
        consumer: "quiet",
        count: 5,
        p50: 1,
        p95: 2,
        p99: 3,
        max: 4,
        mean: 1,
        at: new Date(NOW - 1000).toISOString(),
        window: { ...window, count: 0, p50: 0, p95: 0, p99: 0, max: 0 },
      },
    ],
    lists: [
      ...Array.from({ length: 120 }, (_, i) => ({
        key: `pix:list:processing:w${i}`,
        kind: "processing_list" as const,
        length: i,
      })),
      { key: "source_list_0", kind: "source_list", length: 7 },
    ],
    notes: [],
    rounds: 1,
    durationMs: 3.25,
    ledgerBacklog: 170_000,
    redisTimeMs: NOW,
  };
}

const SETTINGS = { top: 10, maxSeries: 100, latencyMaxAgeMs: 60_000, ledgerMaxBacklog: 200_000 };

Deno.test("renderQueueMetrics: every series of a busy snapshot, in units, parseable", () => {
  const page = parsePrometheusText(renderQueueMetrics(busy(), { refreshes: 7 }, SETTINGS, NOW));
  const v = (name: string, labels: Record<string, string> = {}) => sampleValue(page, name, labels);
  assert.equal(v("fastpix_queue_up"), 1);
  assert.equal(v("fastpix_queue_refreshes_total"), 7);
  assert.equal(page.types.get("fastpix_queue_refreshes_total"), "counter");
  assert.equal(v("fastpix_queue_refresh_duration_seconds"), 0.00325);
  assert.equal(v("fastpix_queue_refresh_timestamp_seconds"), NOW / 1000);
  assert.equal(v("fastpix_queue_idle_threshold_seconds"), 5);
  assert.equal(v("fastpix_queue_stream_length_entries"), 10);
  assert.equal(v("fastpix_queue_stream_entries_added_total"), 99);
  assert.equal(v("fastpix_queue_stream_last_entry_age_seconds"), 2.5);
  assert.equal(v("fastpix_queue_group_lag_entries", { group: "pix_consumers" }), 19);
  // Redis could not tell the audit group's lag: no sample rather than a made-up 0.
  assert.ok(
    !page.samples.some((s) =>
      s.name === "fastpix_queue_group_lag_entries" && s.labels.group === "audit"
    ),
  );
  assert.equal(v("fastpix_queue_group_pending_entries", { group: "pix_consumers" }), 157);
  assert.equal(v("fastpix_queue_group_oldest_pending_age_seconds", { group: "pix_consumers" }), 30);
  assert.equal(
    v("fastpix_queue_group_oldest_pending_idle_seconds", { group: "pix_consumers" }),
    20,
  );
  assert.equal(v("fastpix_queue_group_oldest_pending_age_seconds", { group: "audit" }), 0);
  for (const [state, n] of [["active", 150], ["stalled", 2], ["idle", 1]] as const) {
    assert.equal(v("fastpix_queue_group_consumers", { group: "pix_consumers", state }), n);
  }
  assert.equal(v("fastpix_queue_dlq_length_entries"), 6);
  assert.equal(v("fastpix_queue_dlq_entries_added_total"), 9);
  assert.equal(v("fastpix_queue_dlq_code_entries", { code: "1202", name: "AMOUNT_FORMAT" }), 4);
  assert.equal(v("fastpix_queue_dlq_code_entries", { code: "other", name: "other" }), 2);
  assert.equal(v("fastpix_queue_ledger_backlog_rows"), 170_000);
  assert.equal(v("fastpix_queue_ledger_backlog_max_rows"), 200_000);
  assert.equal(v("fastpix_queue_processed_payments_total"), 1234);
  assert.equal(v("fastpix_queue_processed_amount_cents_total"), 5_000_771_810);
  assert.equal(v("fastpix_queue_redis_memory_used_bytes"), 12_000_000);
  assert.equal(v("fastpix_queue_stream_memory_bytes"), 4096);
  assert.equal(
    v("fastpix_queue_exporter_info", { stream: "pix_payments", group: "pix_consumers" }),
    1,
  );
  // Latency in seconds, by quantile; a window with no payment has a count but no quantiles.
  for (const [q, s] of [["0.5", 0.0015], ["0.95", 0.03], ["0.99", 0.25], ["1", 1.2]] as const) {
    assert.equal(
      v("fastpix_queue_consumer_latency_window_seconds", { consumer: "fresh", quantile: q }),
      s,
    );
  }
  assert.equal(v("fastpix_queue_consumer_latency_window_payments", { consumer: "fresh" }), 20);
  assert.equal(v("fastpix_queue_consumer_latency_window_payments", { consumer: "quiet" }), 0);
  const latencyOf = (consumer: string) =>
    page.samples.filter((s) => s.name.includes("latency") && s.labels.consumer === consumer);
  assert.equal(latencyOf("quiet").length, 1);
  // A window published 2 minutes ago belongs to a consumer that is gone.
  assert.deepEqual(latencyOf("gone"), []);
});

Deno.test("renderQueueMetrics: labels stay bounded, the rest is summed or counted", () => {
  const text = renderQueueMetrics(busy(), { refreshes: 1 }, SETTINGS, NOW);
  const page = parsePrometheusText(text);
  const of = (name: string) => page.samples.filter((s) => s.name === name);

  // 1,000 response streams: the 10 longest one by one, the other 990 summed.
  const responses = of("fastpix_queue_response_stream_length_entries");
  assert.equal(responses.length, 11);
  assert.deepEqual(
    responses.slice(0, 10).map((s) => [s.labels.backend, s.value]),
    Array.from({ length: 10 }, (_, i) => [String(1000 - i), 1000 - i]),
  );
  assert.deepEqual(responses[10].labels, { backend: OTHER_BACKEND });
  assert.equal(responses.reduce((n, s) => n + s.value, 0), 500_500);
  assert.equal(sampleValue(page, "fastpix_queue_response_streams"), 1000);
  assert.equal(sampleValue(page, "fastpix_queue_response_streams_length_entries"), 500_500);

  // 153 consumers: 100 series, the stalled ones among them, every one counted by state.
  const stalled = of("fastpix_queue_consumer_stalled");
  assert.equal(stalled.length, 100);
  assert.deepEqual(
    stalled.filter((s) => s.value === 1).map((s) => s.labels.consumer).sort(),
    ['zz "odd"\\name\n', "zz_stalled_1"],
  );
  assert.equal(of("fastpix_queue_consumer_pending_entries").length, 100);
  // The odd name is escaped in the text and read back intact.
  assert.ok(text.includes('consumer="zz \\"odd\\"\\\\name\\n"'), "label value not escaped");

  // 121 lists: 100 series (the longest), totals by kind over all of them.
  const lists = of("fastpix_queue_list_length_entries");
  assert.equal(lists.length, 100);
  assert.equal(lists[0].value, 119);
  assert.equal(sampleValue(page, "fastpix_queue_lists", { kind: "processing_list" }), 120);
  assert.equal(
    sampleValue(page, "fastpix_queue_lists_length_entries", { kind: "processing_list" }),
    (119 * 120) / 2,
  );
  assert.equal(
    sampleValue(page, "fastpix_queue_lists_length_entries", { kind: "source_list" }),
    7,
  );
  // Nothing looks like a payment: no label carries a transaction id.
  assert.ok(!page.samples.some((s) => "transaction_id" in s.labels));
});

Deno.test("renderQueueMetrics: Redis down serves no stale numbers", () => {
  const down: Snapshot = { ...busy(), available: false, error: "ECONNREFUSED" };
  const page = parsePrometheusText(renderQueueMetrics(down, { refreshes: 3 }, SETTINGS, NOW));
  assert.equal(sampleValue(page, "fastpix_queue_up"), 0);
  assert.deepEqual(
    [...new Set(page.samples.map((s) => s.name))],
    [
      "fastpix_queue_exporter_info",
      "fastpix_queue_up",
      "fastpix_queue_refreshes_total",
      "fastpix_queue_refresh_duration_seconds",
      "fastpix_queue_refresh_timestamp_seconds",
      "fastpix_queue_idle_threshold_seconds",
      "fastpix_queue_ledger_backlog_max_rows",
    ],
  );
});

/** A dead letter as `XRANGE` returns it. */
const letter = (id: string, code?: string): [string, string[]] => [
  id,
  code === undefined ? ["reason", "x"] : ["error_code", code, "reason", "x"],
];

Deno.test("DlqCodeCounter: exact counts page by page, a removal starts the count over", () => {
  const counter = new DlqCodeCounter(3);
  assert.deepEqual(counter.commands("dlq"), [
    ["XRANGE", "dlq", "(0-0", "+", "COUNT", 3],
    ["XINFO", "STREAM", "dlq"],
  ]);
  counter.apply([letter("1-1", "1202"), letter("1-2", "2001"), letter("1-3", "1202")], {
    length: 5,
    entriesAdded: 5,
  });
  assert.equal(counter.codes(), undefined, "a full page: more may follow");
  assert.equal(counter.commands("dlq")[0][2], "(1-3");
  counter.apply([letter("1-4", "9999"), letter("1-5")], { length: 5, entriesAdded: 5 });
  assert.deepEqual(counter.codes(), [
    { code: "1202", name: "AMOUNT_FORMAT", count: 2 },
    { code: "2001", name: "MAX_DELIVERIES_EXCEEDED", count: 1 },
    { code: "none", name: null, count: 1 },
    { code: "other", name: null, count: 1 },
  ]);
  // New dead letters are added to the count.
  counter.apply([letter("1-6", "2001")], { length: 6, entriesAdded: 6 });
  assert.equal(counter.codes()![1].count, 2);

  // Two are replayed (removed): the count starts over; the last complete one is kept meanwhile.
  counter.apply([], { length: 4, entriesAdded: 6 });
  assert.equal(counter.resets, 1);
  assert.equal(counter.commands("dlq")[0][2], "(0-0");
  assert.equal(counter.codes()!.reduce((n, c) => n + c.count, 0), 6);
  counter.apply([letter("1-3", "1202"), letter("1-4", "9999"), letter("1-5")], {
    length: 4,
    entriesAdded: 6,
  });
  counter.apply([letter("1-6", "2001")], { length: 4, entriesAdded: 6 });
  assert.deepEqual(counter.codes()!.map((c) => [c.code, c.count]), [
    ["1202", 1],
    ["2001", 1],
    ["none", 1],
    ["other", 1],
  ]);

  // The dead-letter stream is emptied or deleted: an exact empty count at once.
  counter.apply([], undefined);
  assert.deepEqual(counter.codes(), []);
  // Read as removed between the two commands (more counted than there are): counted again.
  const raced = new DlqCodeCounter(3);
  raced.apply([letter("1-1", "1202"), letter("1-2", "1202")], { length: 1, entriesAdded: 2 });
  assert.equal(raced.codes(), undefined);
  raced.apply([letter("1-2", "1202")], { length: 1, entriesAdded: 2 });
  assert.deepEqual(raced.codes(), [{ code: "1202", name: "AMOUNT_FORMAT", count: 1 }]);
  // A Redis without entries-added never claims an exact count.
  const old = new DlqCodeCounter(3);
  old.apply([letter("1-1", "1202")], { length: 1, entriesAdded: null });
  assert.equal(old.codes(), undefined);
});

Deno.test("codeLabel keeps our codes, calls the rest other, a missing one none", () => {
  assert.equal(codeLabel("1202"), "1202");
  assert.equal(codeLabel("tx-123"), "other");
  assert.equal(codeLabel(undefined), "none");
  assert.equal(codeLabel(""), "none");
});
