/**
 * A long constant-rate run through the gateway (`RATE` payments/s for `DURATION`, design
 * `DESIGN`), meant to have its consumers restarted mid-way (`deno task k6 soak` kills one with
 * SIGKILL and restarts the others half way through; by hand, restart them yourself). At the end
 * it waits (up to `DRAIN`) until Redis has processed everything, then checks with the gateway's
 * `/metrics` and the Redis counters that nothing was lost or counted twice:
 * gateway-enqueued delta = `processed_count` delta, and every 202 the script saw was enqueued.
 * A run that sent nothing, or whose check never ran, fails (thresholds) and prints no `lost 0`.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9999 -e REDIS_URL=redis://127.0.0.1:6379 loadtest/k6/soak.ts
 *
 * Needs one gateway process behind BASE_URL (its /metrics counts what that process enqueued).
 * @module
 */
import http from "k6/http";
import { check } from "k6";
import { Counter, Gauge } from "k6/metrics";
import type { Options } from "k6/options";
import {
  backendIds,
  baseUrl,
  countOf,
  type Design,
  DESIGNS,
  drainProblems,
  envFraction,
  envInt,
  envList,
  envSeconds,
  gatewayEnqueued,
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
  waitForDrain,
} from "./lib.ts";

const design = envList<Design>("DESIGN", ["stream"], DESIGNS)[0];
const rate = envInt("RATE", 500, 1, 1_000_000);
const durationS = envSeconds("DURATION", "10m");
const drainS = envSeconds("DRAIN", "120s");
const p99Ms = envInt("P99_MS", 50, 1);
const maxFailedRate = envFraction("MAX_FAILED_RATE", 0.001);
const base = baseUrl();
const ids = backendIds();

const redis = redisClient();

const accepted = new Counter("payments_accepted");
const gatewayEnqueuedGauge = new Gauge("soak_gateway_enqueued");
const redisProcessed = new Gauge("soak_redis_processed");
const lost = new Gauge("soak_lost");
const extra = new Gauge("soak_counted_twice");
/** One sample once teardown has compared the counters: without it the run measured nothing. */
const checked = new Counter("soak_checked");

export const options: Options = {
  scenarios: {
    soak: {
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: `${durationS}s`,
      preAllocatedVUs: envInt("VUS", 50, 1),
      maxVUs: envInt("MAX_VUS", 1000, 1),
      exec: "pay",
      tags: { design },
    },
  },
  thresholds: {
    "http_req_failed{name:payment}": [`rate<${maxFailedRate}`],
    "http_req_duration{name:payment}": [`p(99)<${p99Ms}`],
    // Something was sent and the end-of-run check ran: the gauges below mean nothing otherwise.
    payments_accepted: ["count>0"],
    soak_checked: ["count>0"],
    soak_lost: ["value==0"],
    soak_counted_twice: ["value==0"],
    checks: ["rate==1"],
  },
  summaryTrendStats: TREND_STATS,
  teardownTimeout: `${drainS + 30}s`,
};

const processedCount = () => redisInteger(redis, "GET", "processed_count");

/** Where the counters stood before the run. */
export async function setup(): Promise<{ enqueuedBefore: number; processedBefore: number }> {
  return { enqueuedBefore: gatewayEnqueued(base, design), processedBefore: await processedCount() };
}

const headers = { "Content-Type": "application/json" };

/** One payment through the gateway (the scenario's `exec`). */
export function pay(): void {
  const response = http.post(
    `${base}/pix/payments?design=${design}`,
    JSON.stringify(makePayment(ids)),
    { headers, timeout: "5s", tags: { name: "payment" } },
  );
  if (response.status === 202) accepted.add(1);
}

/** Waits until Redis processed what the gateway enqueued, then records both and checks them. */
export async function teardown(
  data: { enqueuedBefore: number; processedBefore: number },
): Promise<void> {
  const { enqueued, processed } = await waitForDrain(drainS, async () => ({
    enqueued: gatewayEnqueued(base, design) - data.enqueuedBefore,
    processed: await processedCount() - data.processedBefore,
  }));
  gatewayEnqueuedGauge.add(enqueued);
  redisProcessed.add(processed);
  lost.add(Math.max(0, enqueued - processed));
  extra.add(Math.max(0, processed - enqueued));
  check(null, {
    "the gateway enqueued something": () => enqueued > 0,
    "Redis processed every payment the gateway enqueued": () => processed >= enqueued,
    "nothing was counted twice": () => processed <= enqueued,
  });
  checked.add(1);
}

/** Writes the JSON summary and prints a table. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const latency = latencyOf(data, "http_req_duration{name:payment}");
  const sent = countOf(data, "payments_accepted");
  const measured = countOf(data, "soak_checked") > 0;
  // Without the teardown's check the gauges hold nothing: report them as unknown, never as 0.
  const enqueued = measured ? gaugeOf(data, "soak_gateway_enqueued") : null;
  const processed = measured ? gaugeOf(data, "soak_redis_processed") : null;
  const problems: string[] = [];
  if (sent === 0) {
    problems.push(`${design}: no payment was accepted (202), so nothing was measured`);
  }
  if (enqueued === null || processed === null) {
    problems.push(`${design}: the end-of-run check did not run (see k6's errors above)`);
  } else {
    problems.push(...drainProblems(design, { enqueued, processed }));
    if (sent > enqueued) {
      problems.push(`${design}: ${sent - enqueued} payments answered 202 but not enqueued`);
    }
  }
  const result = {
    design,
    throughput: [throughputRun(sent, durationS)],
    latency: { offeredRate: rate, payments: latency.count, method: "http_202", ...latency },
    offeredRate: rate,
    accepted: sent,
    failedRate: rateOf(data, "http_req_failed{name:payment}"),
    gatewayEnqueued: enqueued,
    redisProcessed: processed,
    lost: enqueued === null || processed === null ? null : Math.max(0, enqueued - processed),
    countedTwice: enqueued === null || processed === null
      ? null
      : Math.max(0, processed - enqueued),
    /** Answered 202 to this script but not counted by the gateway (must be 0). */
    acceptedNotEnqueued: enqueued === null ? null : Math.max(0, sent - enqueued),
  };
  const lines = table(
    ["design", "rate/s", "accepted", "enqueued", "processed", "lost", "twice", "p99 ms"],
    [[
      design,
      rate,
      sent,
      enqueued ?? "?",
      processed ?? "?",
      result.lost ?? "?",
      result.countedTwice ?? "?",
      latency.p99,
    ]],
  );
  return summaryOutputs("soak", {
    options: { baseUrl: base, rate, durationS, drainS },
    results: [result],
    problems,
  }, lines);
}
