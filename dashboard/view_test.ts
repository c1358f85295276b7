import assert from "node:assert/strict";
import type { LatencyInfo, Snapshot } from "@fastpix/monitor";
import { combineLatency, consumerState, dashboardView, VIEW_LIMITS } from "./view.ts";

const NOW = Date.parse("2030-01-01T00:00:30Z");

function latency(consumer: string, at: string, window?: [number, number, number]): LatencyInfo {
  const base = { consumer, at, count: 1, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  if (!window) return base;
  const [count, p50, p99] = window;
  return { ...base, window: { seconds: 10, count, p50, p95: p99, p99, max: p99, mean: p50 } };
}

Deno.test("combineLatency: count-weighted p50, worst p99, stale and idle consumers left out", () => {
  assert.deepEqual(
    combineLatency([
      latency("a", "2030-01-01T00:00:29Z", [300, 2, 10]),
      latency("b", "2030-01-01T00:00:28Z", [100, 6, 40]),
      latency("stale", "2030-01-01T00:00:01Z", [1000, 100, 900]),
      latency("idle", "2030-01-01T00:00:29Z", [0, 0, 0]),
      latency("old-style", "2030-01-01T00:00:29Z"),
    ], NOW),
    { p50: 3, p99: 40, consumers: 2 },
  );
  assert.deepEqual(combineLatency([], NOW), { p50: null, p99: null, consumers: 0 });
});

Deno.test("consumerState: stalled, active within the threshold, idle past it", () => {
  assert.equal(
    consumerState({ name: "a", pending: 2, idleMs: 9000, stalled: true }, 5000),
    "stalled",
  );
  assert.equal(
    consumerState({ name: "a", pending: 0, idleMs: 4000, stalled: false }, 5000),
    "active",
  );
  assert.equal(
    consumerState({ name: "a", pending: 0, idleMs: 9000, stalled: false }, 5000),
    "idle",
  );
});

function snap(streams: number, consumers: number): Snapshot {
  return {
    at: "2030-01-01T00:00:30Z",
    redisUrl: "redis://x",
    stream: "pix_payments",
    group: "g",
    idleThresholdMs: 5000,
    available: true,
    error: null,
    server: null,
    counters: { processed: 0, totalBrl: "0.00", totalSource: "none" },
    streamInfo: null,
    groups: [{
      name: "g",
      pending: 0,
      lastDeliveredId: "0-0",
      entriesRead: 0,
      lag: 0,
      consumers: Array.from({ length: consumers }, (_, i) => ({
        name: `c${String(i).padStart(4, "0")}`,
        pending: i % 7,
        idleMs: i === consumers - 1 ? 60_000 : 10,
        stalled: i === consumers - 1,
      })),
    }],
    processor: {
      groupExists: true,
      pending: 0,
      lag: 0,
      consumers,
      activeConsumers: consumers - 1,
      stalledConsumers: 1,
    },
    responses: {
      prefix: "r_",
      streams: Array.from({ length: streams }, (_, i) => ({
        key: `r_${i}`,
        backendId: String(i),
        length: i,
        lastId: "1-0",
      })),
      totalLength: streams * (streams - 1) / 2,
      scanComplete: true,
    },
    dlq: { key: "pix_payments:dlq", length: 0, sampled: 0, topCodes: [] },
    latency: [],
    lists: [],
    notes: [],
    rounds: 1,
    durationMs: 1,
  };
}

Deno.test("dashboardView: a few response streams are all listed", () => {
  const v = dashboardView(snap(3, 2), NOW);
  assert.deepEqual(v.responses.shown.map((s) => s.backendId), ["0", "1", "2"]);
  assert.deepEqual(v.responses.others, { count: 0, length: 0 });
  assert.deepEqual(v.groups[0].consumers.map((c) => c.state), ["active", "stalled"]);
});

Deno.test("dashboardView: thousands of response streams become the longest and one sum", () => {
  const v = dashboardView(snap(5000, 3), NOW);
  assert.equal(v.responses.count, 5000);
  assert.equal(v.responses.shown.length, VIEW_LIMITS.responses);
  assert.equal(v.responses.shown[0].backendId, "4999");
  const shown = v.responses.shown.reduce((n, s) => n + s.length, 0);
  assert.deepEqual(v.responses.others, {
    count: 5000 - VIEW_LIMITS.responses,
    length: v.responses.totalLength - shown,
  });
  assert.ok(JSON.stringify(v).length < 20_000, "the page gets a bounded message");
});

Deno.test("dashboardView: past the consumer limit, the stalled ones are kept", () => {
  const v = dashboardView(snap(0, VIEW_LIMITS.consumers + 50), NOW);
  const g = v.groups[0];
  assert.equal(g.consumers.length, VIEW_LIMITS.consumers);
  assert.equal(g.hiddenConsumers, 50);
  assert.ok(g.consumers.some((c) => c.state === "stalled"));
});
