/**
 * The same workload injected straight into Redis, no HTTP in the path: `XADD` onto the payment
 * stream for `stream`/`basic`, `LPUSH` of the JSON payment onto `source_list_<i>` for
 * `list`/`list-reliable` (`DESIGN`), at `RATE` payments/s for `DURATION`, through
 * `k6/experimental/redis`'s `sendCommand`. At the end it waits (up to `DRAIN`) for the consumers
 * to empty the queue and reports how many payments Redis counted as processed, so lost payments
 * show (`processed_count` must grow by exactly what was enqueued).
 *
 *   k6 run -e REDIS_URL=redis://127.0.0.1:6379 -e DESIGN=stream -e RATE=2000 loadtest/k6/redis_direct.ts
 * @module
 */
import { sleep } from "k6";
import { Counter, Gauge, Rate, Trend } from "k6/metrics";
import type { Options } from "k6/options";
import {
  backendIds,
  countOf,
  type Design,
  DESIGNS,
  envInt,
  envList,
  envSeconds,
  envString,
  gaugeOf,
  latencyOf,
  makePayment,
  rateOf,
  redisClient,
  redisInteger,
  type SummaryData,
  summaryOutputs,
  table,
  throughputRun,
  TREND_STATS,
} from "./lib.ts";

const design = envList<Design>("DESIGN", ["stream"], DESIGNS)[0];
const stream = envString("REDIS_STREAM", "pix_payments");
const group = envString("GROUP_NAME", "pix_consumers");
const numLists = envInt("NUM_LISTS", 1, 1, 1024);
const rate = envInt("RATE", 1000, 1, 1_000_000);
const durationS = envSeconds("DURATION", "30s");
const drainS = envSeconds("DRAIN", "60s");
const p99Ms = envInt("P99_MS", 20, 1);
const ids = backendIds();
const lists = Array.from({ length: numLists }, (_, i) => `source_list_${i}`);
const usesStream = design === "stream" || design === "basic";

const redis = redisClient();

const enqueueDuration = new Trend("enqueue_duration", true);
const enqueueFailed = new Rate("enqueue_failed");
const enqueued = new Counter("payments_enqueued");
const processedDelta = new Gauge("payments_processed_delta");
const queueLeft = new Gauge("queue_depth_after_drain");

export const options: Options = {
  scenarios: {
    [`redis_${design}`]: {
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: `${durationS}s`,
      preAllocatedVUs: envInt("VUS", 50, 1),
      maxVUs: envInt("MAX_VUS", 500, 1),
      exec: "enqueue",
      tags: { design },
    },
  },
  thresholds: {
    enqueue_failed: ["rate<0.001"],
    enqueue_duration: [`p(99)<${p99Ms}`],
  },
  summaryTrendStats: TREND_STATS,
  teardownTimeout: `${drainS + 30}s`,
};

const integer = (command: string, ...args: string[]) => redisInteger(redis, command, ...args);

/** Payments still waiting: the group's lag + pending, or the lists' lengths. */
async function queueDepth(): Promise<number> {
  if (!usesStream) {
    let total = 0;
    for (const list of lists) total += await integer("LLEN", list);
    return total;
  }
  let groups: unknown;
  try {
    groups = await redis.sendCommand("XINFO", "GROUPS", stream);
  } catch {
    return await integer("XLEN", stream); // no stream yet
  }
  for (const flat of groups as unknown[][]) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) info[String(flat[i])] = flat[i + 1];
    if (info.name === group) return Number(info.lag ?? 0) + Number(info.pending ?? 0);
  }
  return await integer("XLEN", stream); // no consumer group: nothing drains it
}

/** Where `processed_count` stood before the run. */
export async function setup(): Promise<{ processedBefore: number }> {
  return { processedBefore: await integer("GET", "processed_count") };
}

/** One payment straight into Redis (the scenario's `exec`). */
export async function enqueue(): Promise<void> {
  const p = makePayment(ids);
  const started = Date.now();
  try {
    if (usesStream) {
      await redis.sendCommand(
        "XADD",
        stream,
        "*",
        "transaction_id",
        p.transaction_id,
        "backend_id",
        p.backend_id,
        "amount",
        p.amount,
        "timestamp",
        p.timestamp,
        "payee_key",
        p.payee_key,
      ); // deno-fmt-ignore
    } else {
      await redis.sendCommand("LPUSH", lists[Math.floor(Math.random() * lists.length)], JSON.stringify(p));
    }
    enqueued.add(1);
    enqueueFailed.add(false);
  } catch (error) {
    enqueueFailed.add(true);
    console.warn(`enqueue failed: ${error}`);
  }
  enqueueDuration.add(Date.now() - started);
}

/** Waits for the consumers to drain the queue, then records what Redis counted. */
export async function teardown(data: { processedBefore: number }): Promise<void> {
  const deadline = Date.now() + drainS * 1000;
  let depth = await queueDepth();
  while (depth > 0 && Date.now() < deadline) {
    sleep(1);
    depth = await queueDepth();
  }
  sleep(1); // the last batch's counters
  processedDelta.add(await integer("GET", "processed_count") - data.processedBefore);
  queueLeft.add(depth);
}

/** Writes the JSON summary and prints a table. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const sent = countOf(data, "payments_enqueued");
  const processed = gaugeOf(data, "payments_processed_delta");
  const latency = latencyOf(data, "enqueue_duration");
  const result = {
    design,
    throughput: [throughputRun(sent, durationS)],
    latency: { offeredRate: rate, payments: latency.count, method: "enqueue", ...latency },
    enqueued: sent,
    failedRate: rateOf(data, "enqueue_failed"),
    processed,
    queueDepthAfterDrain: gaugeOf(data, "queue_depth_after_drain"),
    /** Enqueued but never counted as processed (consumers down, or a lossy design). */
    lost: processed === null ? null : Math.max(0, sent - processed),
  };
  const lines = table(
    ["design", "offered/s", "enqueued/s", "p50 ms", "p99 ms", "max ms", "processed", "lost"],
    [[
      design,
      rate,
      result.throughput[0].perSecond,
      latency.p50,
      latency.p99,
      latency.max,
      processed ?? "?",
      result.lost ?? "?",
    ]],
  );
  return summaryOutputs("redis_direct", {
    options: { stream, lists, rate, durationS, drainS },
    results: [result],
  }, lines);
}
