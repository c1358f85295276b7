/**
 * The same workload injected straight into Redis, no HTTP in the path: `XADD` onto the payment
 * stream for `stream`/`basic`, `LPUSH` of the JSON payment onto `source_list_<i>` (`NUM_LISTS`
 * queues, named as `REDIS_LIST` and `USE_HASHTAG` say) for `list`/`list-reliable` (`DESIGN`), at
 * `RATE` payments/s for `DURATION`, through
 * `k6/experimental/redis`'s `sendCommand`. At the end it waits (up to `DRAIN`) for the consumers
 * to empty the queue and reports how many payments Redis counted as processed, so lost payments
 * show (`processed_count` must grow by exactly what was enqueued). The run fails (thresholds) when
 * nothing was enqueued, when the drain check never ran, or when enqueued ≠ processed; the summary
 * then says why and never reports `lost 0` for a run that measured nothing.
 *
 *   k6 run -e REDIS_URL=redis://127.0.0.1:6379 -e DESIGN=stream -e RATE=2000 loadtest/k6/redis_direct.ts
 * @module
 */
import { check, sleep } from "k6";
import { Counter, Gauge, Rate, Trend } from "k6/metrics";
import type { Options } from "k6/options";
import {
  backendIds,
  countOf,
  type Design,
  DESIGNS,
  drainProblems,
  envBool,
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
  redisReply,
  type SummaryData,
  summaryOutputs,
  table,
  throughputRun,
  TREND_STATS,
} from "./lib.ts";
import { DEFAULT_LIST_BASE, sourceListKey } from "../../pix/keys.ts";

const design = envList<Design>("DESIGN", ["stream"], DESIGNS)[0];
const stream = envString("REDIS_STREAM", "pix_payments");
const group = envString("GROUP_NAME", "pix_consumers");
const numLists = envInt("NUM_LISTS", 1, 1, 1024);
const rate = envInt("RATE", 1000, 1, 1_000_000);
const durationS = envSeconds("DURATION", "30s");
const drainS = envSeconds("DRAIN", "60s");
const p99Ms = envInt("P99_MS", 20, 1);
const ids = backendIds();
const naming = {
  base: envString("REDIS_LIST", DEFAULT_LIST_BASE),
  hashtag: envBool("USE_HASHTAG", false),
};
const lists = Array.from({ length: numLists }, (_, i) => sourceListKey(i, naming));
const usesStream = design === "stream" || design === "basic";

const redis = redisClient();

const enqueueDuration = new Trend("enqueue_duration", true);
const enqueueFailed = new Rate("enqueue_failed");
const enqueued = new Counter("payments_enqueued");
const processedDelta = new Gauge("payments_processed_delta");
const queueLeft = new Gauge("queue_depth_after_drain");
/** +1 per payment enqueued, minus what Redis processed (teardown): 0 when nothing was lost. */
const unaccounted = new Counter("payments_unaccounted");
/** One sample once teardown has read the counters: without it the run measured nothing. */
const drainChecked = new Counter("drain_checked");

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
    // Something was enqueued, the drain check ran, and Redis processed exactly that much.
    payments_enqueued: ["count>0"],
    drain_checked: ["count>0"],
    payments_unaccounted: ["count==0"],
    queue_depth_after_drain: ["value==0"],
    checks: ["rate==1"],
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
  if (await integer("EXISTS", stream) === 0) return 0; // nothing was ever added
  const groups = await redisReply(redis, "XINFO", "GROUPS", stream);
  for (const flat of (groups ?? []) as unknown[][]) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) info[String(flat[i])] = flat[i + 1];
    if (info.name !== group) continue;
    // Redis leaves the lag unknown (nil) after deletions: then the stream's length stands in.
    if (info.lag === null || info.lag === undefined) return await integer("XLEN", stream);
    return Number(info.lag) + Number(info.pending ?? 0);
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
    unaccounted.add(1);
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
  const processedNow = async () => await integer("GET", "processed_count") - data.processedBefore;
  let depth = await queueDepth();
  while (depth > 0 && Date.now() < deadline) {
    sleep(1);
    depth = await queueDepth();
  }
  // Payments already taken but not yet counted (a batch in flight, a processing list): wait until
  // the counter stops moving for a second.
  let processed = await processedNow();
  for (;;) {
    sleep(1);
    const next = await processedNow();
    if (next === processed || Date.now() >= deadline) {
      processed = next;
      break;
    }
    processed = next;
  }
  processedDelta.add(processed);
  unaccounted.add(-processed);
  queueLeft.add(depth);
  check(null, { "the consumers drained the queue": () => depth === 0 });
  drainChecked.add(1);
}

/** Writes the JSON summary and prints a table. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const sent = countOf(data, "payments_enqueued");
  const measured = countOf(data, "drain_checked") > 0;
  // Without the drain check the gauges hold nothing: unknown, never 0.
  const processed = measured ? gaugeOf(data, "payments_processed_delta") : null;
  const latency = latencyOf(data, "enqueue_duration");
  const problems: string[] = [];
  if (processed === null) {
    if (sent === 0) problems.push(`${design}: nothing was enqueued, so nothing was measured`);
    problems.push(`${design}: the drain check did not run (see k6's errors above)`);
  } else {
    problems.push(...drainProblems(design, { enqueued: sent, processed }));
  }
  const result = {
    design,
    throughput: [throughputRun(sent, durationS)],
    latency: { offeredRate: rate, payments: latency.count, method: "enqueue", ...latency },
    offeredRate: rate,
    enqueued: sent,
    failedRate: rateOf(data, "enqueue_failed"),
    processed,
    queueDepthAfterDrain: measured ? gaugeOf(data, "queue_depth_after_drain") : null,
    /** Enqueued but never counted as processed (consumers down, or a lossy design). */
    lost: processed === null ? null : Math.max(0, sent - processed),
    /** Counted as processed more often than enqueued. */
    countedTwice: processed === null ? null : Math.max(0, processed - sent),
  };
  const lines = table(
    [
      "design",
      "offered/s",
      "enqueued/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "enqueued",
      "processed",
      "lost",
      "twice",
    ],
    [[
      design,
      rate,
      result.throughput[0].perSecond,
      latency.p50,
      latency.p99,
      latency.max,
      sent,
      processed ?? "?",
      result.lost ?? "?",
      result.countedTwice ?? "?",
    ]],
  );
  return summaryOutputs("redis_direct", {
    options: { stream, lists, rate, durationS, drainS },
    results: [result],
    problems,
  }, lines);
}
