/**
 * The queue designs side by side through the HTTP gateway: for each design (`DESIGNS`), a
 * constant-arrival-rate phase (`RATE` for `CONSTANT_DURATION`), then a ramping-arrival-rate phase
 * that climbs `RAMP_RATES` step by step to find the knee (the highest rate still served in full,
 * within `P99_MS` and `MAX_FAILED_RATE`). Designs run one after the other, each request tagged
 * with its design, phase and ramp step. `WAIT=true` asks the gateway to answer only once the
 * consumer confirmed (end-to-end latency; `basic` sends no confirmations and stays in 202 mode).
 * With `REDIS_URL` set (the gateway's Redis), the end of the run waits (up to `DRAIN`) until Redis
 * processed what the gateway enqueued and fails on a payment lost or counted twice; every design
 * must have had payments accepted, or the run fails (it measured nothing).
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9999 -e REDIS_URL=redis://127.0.0.1:6379 \
 *     -e DESIGNS=stream loadtest/k6/designs.ts
 *
 * The summary JSON (`SUMMARY_JSON`) has one entry per design with the same names as
 * `deno task compare-fifo-vs-stream` (throughput in payments/s, latency p50/p95/p99/max in ms).
 * @module
 */
import http from "k6/http";
import exec from "k6/execution";
import { check } from "k6";
import { Counter, Gauge } from "k6/metrics";
import type { Options, Scenario } from "k6/options";
import {
  backendIds,
  baseUrl,
  CONFIRMING_DESIGNS,
  countOf,
  type Design,
  DESIGNS,
  drainProblems,
  envBool,
  envFraction,
  envInt,
  envIntList,
  envList,
  envSeconds,
  envString,
  gatewayEnqueued,
  gaugeOf,
  latencyOf,
  type LatencySummary,
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

const designs = envList<Design>("DESIGNS", DESIGNS, DESIGNS);
const rate = envInt("RATE", 1000, 1, 1_000_000);
const constantS = envSeconds("CONSTANT_DURATION", "30s");
const rampRates = envIntList("RAMP_RATES", [500, 1000, 2000, 4000, 8000]);
const stepS = envSeconds("STEP_DURATION", "15s");
const stepRampS = envSeconds("STEP_RAMP", "3s");
const gapS = envSeconds("GAP", "5s");
const p99Ms = envInt("P99_MS", 50, 1);
const maxFailedRate = envFraction("MAX_FAILED_RATE", 0.01);
const wait = envBool("WAIT", false);
const vus = envInt("VUS", 50, 1);
const maxVus = envInt("MAX_VUS", 1000, 1);
const base = baseUrl();
const ids = backendIds();
const drainS = envSeconds("DRAIN", "120s");
/** The gateway's Redis, for the end-of-run check (none without `REDIS_URL`). */
const redis = envString("REDIS_URL", "") === "" ? undefined : redisClient();

const accepted = new Counter("payments_accepted");
const drainEnqueued = new Gauge("designs_gateway_enqueued");
const drainProcessed = new Gauge("designs_redis_processed");
const drainLost = new Gauge("designs_lost");
const drainTwice = new Gauge("designs_counted_twice");
/** One sample once teardown has compared the counters. */
const drainChecked = new Counter("designs_drain_checked");

const rampS = rampRates.length * (stepRampS + stepS);
/** Seconds each design takes (constant phase, pause, ramp, pause). */
const designS = constantS + gapS + rampS + gapS;

function scenarios(): Record<string, Scenario> {
  const all: Record<string, Scenario> = {};
  designs.forEach((design, i) => {
    const start = i * designS;
    all[`${design}_constant`] = {
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: `${constantS}s`,
      preAllocatedVUs: vus,
      maxVUs: maxVus,
      startTime: `${start}s`,
      gracefulStop: "5s",
      exec: "pay",
      env: { DESIGN: design, PHASE: "constant" },
      tags: { design, phase: "constant" },
    };
    all[`${design}_ramp`] = {
      executor: "ramping-arrival-rate",
      startRate: rampRates[0],
      timeUnit: "1s",
      stages: rampRates.flatMap((target) => [
        { target, duration: `${stepRampS}s` },
        { target, duration: `${stepS}s` },
      ]),
      preAllocatedVUs: vus,
      maxVUs: maxVus,
      startTime: `${start + constantS + gapS}s`,
      gracefulStop: "5s",
      exec: "pay",
      env: { DESIGN: design, PHASE: "ramp" },
      tags: { design, phase: "ramp" },
    };
  });
  return all;
}

function thresholds(): Record<string, string[]> {
  const all: Record<string, string[]> = {};
  for (const design of designs) {
    // The pass/fail criteria: the constant phase must be served in full and fast.
    all[`http_req_failed{design:${design},phase:constant}`] = [`rate<${maxFailedRate}`];
    all[`http_req_duration{design:${design},phase:constant}`] = [`p(99)<${p99Ms}`];
    // Always-true thresholds: they make k6 keep these sub-metrics for the summary.
    all[`http_reqs{design:${design},phase:constant}`] = ["count>=0"];
    // A design that had nothing accepted measured nothing.
    all[`payments_accepted{design:${design}}`] = ["count>0"];
    all[`dropped_iterations{scenario:${design}_constant}`] = ["count>=0"];
    rampRates.forEach((_, step) => {
      all[`http_reqs{design:${design},step:${step}}`] = ["count>=0"];
      all[`http_req_failed{design:${design},step:${step}}`] = ["rate>=0"];
      all[`http_req_duration{design:${design},step:${step}}`] = ["max>=0"];
    });
  }
  if (redis !== undefined) {
    all.designs_drain_checked = ["count>0"];
    all.designs_lost = ["value==0"];
    all.designs_counted_twice = ["value==0"];
  }
  return all;
}

export const options: Options = {
  scenarios: scenarios(),
  thresholds: thresholds(),
  summaryTrendStats: TREND_STATS,
  discardResponseBodies: true,
};

/** The ramp step a request belongs to (`ramping` while climbing between steps). */
function stepTag(): string {
  const elapsedS = (Date.now() - exec.scenario.startTime) / 1000;
  const period = stepRampS + stepS;
  const step = Math.min(Math.floor(elapsedS / period), rampRates.length - 1);
  return elapsedS - step * period < stepRampS ? "ramping" : String(step);
}

const headers = { "Content-Type": "application/json" };

/** One payment through the gateway (the scenarios' `exec`). */
export function pay(): void {
  const design = __ENV.DESIGN as Design;
  const waiting = wait && CONFIRMING_DESIGNS.includes(design);
  const tags: Record<string, string> = {};
  if (__ENV.PHASE === "ramp") tags.step = stepTag();
  const response = http.post(
    `${base}/pix/payments?design=${design}${waiting ? "&wait=true" : ""}`,
    JSON.stringify(makePayment(ids)),
    { headers, tags, timeout: waiting ? "15s" : "5s" },
  );
  const ok = check(response, {
    [waiting ? "confirmed (200)" : "accepted (202)"]: (r) => r.status === (waiting ? 200 : 202),
  });
  if (ok) accepted.add(1, { design });
}

/** What the gateway has enqueued for the designs of this run, and what Redis processed. */
async function drainCount(): Promise<{ enqueued: number; processed: number }> {
  let enqueued = 0;
  for (const design of designs) enqueued += gatewayEnqueued(base, design);
  return { enqueued, processed: await redisInteger(redis!, "GET", "processed_count") };
}

/** Where the counters stood before the run (nothing without `REDIS_URL`). */
export async function setup(): Promise<{ enqueued: number; processed: number } | null> {
  return redis === undefined ? null : await drainCount();
}

/** With `REDIS_URL`: waits until Redis processed what the gateway enqueued, then records both. */
export async function teardown(before: { enqueued: number; processed: number } | null) {
  if (redis === undefined || before === null) return;
  const { enqueued, processed } = await waitForDrain(drainS, async () => {
    const now = await drainCount();
    return {
      enqueued: now.enqueued - before.enqueued,
      processed: now.processed - before.processed,
    };
  });
  drainEnqueued.add(enqueued);
  drainProcessed.add(processed);
  drainLost.add(Math.max(0, enqueued - processed));
  drainTwice.add(Math.max(0, processed - enqueued));
  drainChecked.add(1);
}

/** One ramp step as measured. */
interface StepResult {
  offeredRate: number;
  requests: number;
  throughput: number;
  failedRate: number;
  latency: LatencySummary;
}

/** Payments the gateway enqueued and Redis processed during the run (`REDIS_URL` set). */
interface DrainResult {
  enqueued: number;
  processed: number;
  lost: number;
  countedTwice: number;
}

/** What the summary JSON holds per design. */
interface DesignResult {
  design: Design;
  /** Requests answered as expected (202, or 200 with `WAIT`), constant phase and ramp. */
  accepted: number;
  /** The end-of-run check, when this run had one design (else it is the document's `drain`). */
  drain?: DrainResult;
  /** Latency is end to end (enqueue → confirmation) when true, enqueue only (202) when false. */
  wait: boolean;
  /** The constant phase, as `compare-fifo-vs-stream` names its runs. */
  throughput: { payments: number; seconds: number; perSecond: number }[];
  latency: LatencySummary & { offeredRate: number; payments: number; method: string };
  constant: {
    offeredRate: number;
    durationS: number;
    requests: number;
    throughput: number;
    failedRate: number;
    droppedIterations: number;
    latency: LatencySummary;
  };
  ramp: { steps: StepResult[]; knee: StepResult | null };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

function designResult(data: SummaryData, design: Design): DesignResult {
  const c = `{design:${design},phase:constant}`;
  const requests = countOf(data, `http_reqs${c}`);
  const latency = latencyOf(data, `http_req_duration${c}`);
  const steps = rampRates.map((offeredRate, step): StepResult => {
    const s = `{design:${design},step:${step}}`;
    const count = countOf(data, `http_reqs${s}`);
    return {
      offeredRate,
      requests: count,
      throughput: round1(count / stepS),
      failedRate: rateOf(data, `http_req_failed${s}`),
      latency: latencyOf(data, `http_req_duration${s}`),
    };
  });
  // The knee: the last step of the unbroken run of steps served in full, fast and without errors.
  let knee: StepResult | null = null;
  for (const s of steps) {
    const ok = s.throughput >= 0.95 * s.offeredRate && s.failedRate <= maxFailedRate &&
      s.latency.p99 <= p99Ms;
    if (!ok) break;
    knee = s;
  }
  const throughput = round1(requests / constantS);
  const waited = wait && CONFIRMING_DESIGNS.includes(design);
  return {
    design,
    accepted: countOf(data, `payments_accepted{design:${design}}`),
    wait: waited,
    throughput: [throughputRun(requests, constantS)],
    latency: {
      offeredRate: rate,
      payments: latency.count,
      method: waited ? "http_wait_confirmation" : "http_202",
      ...latency,
    },
    constant: {
      offeredRate: rate,
      durationS: constantS,
      requests,
      throughput,
      failedRate: rateOf(data, `http_req_failed${c}`),
      droppedIterations: countOf(data, `dropped_iterations{scenario:${design}_constant}`),
      latency,
    },
    ramp: { steps, knee },
  };
}

/** Writes the comparison JSON and prints a table. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const results = designs.map((d) => designResult(data, d));
  const problems: string[] = [];
  for (const r of results) {
    if (r.accepted === 0) {
      problems.push(`${r.design}: nothing was accepted, so nothing was measured`);
    }
  }
  let drain: DrainResult | null = null;
  if (redis !== undefined) {
    const enqueued = gaugeOf(data, "designs_gateway_enqueued");
    const processed = gaugeOf(data, "designs_redis_processed");
    if (countOf(data, "designs_drain_checked") === 0 || enqueued === null || processed === null) {
      problems.push("the end-of-run check did not run (see k6's errors above)");
    } else {
      drain = {
        enqueued,
        processed,
        lost: Math.max(0, enqueued - processed),
        countedTwice: Math.max(0, processed - enqueued),
      };
      problems.push(...drainProblems(designs.join("+"), drain));
      if (results.length === 1) results[0].drain = drain;
    }
  }
  const rows = results.map((r) => [
    r.design,
    r.wait ? "200 (wait)" : "202",
    r.constant.offeredRate,
    r.throughput[0].perSecond,
    r.latency.p50,
    r.latency.p95,
    r.latency.p99,
    r.latency.max,
    `${round1(r.constant.failedRate * 100)}%`,
    r.ramp.knee?.offeredRate ?? "none",
  ]);
  const drainLine = drain === null ? [] : [
    `enqueued ${drain.enqueued}, processed ${drain.processed}, lost ${drain.lost}, counted twice ${drain.countedTwice}`,
  ];
  const lines = table(
    [
      "design",
      "answer",
      "offered/s",
      "served/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "max ms",
      "failed",
      "knee/s",
    ],
    rows,
  ).concat(drainLine);
  return summaryOutputs("designs", {
    options: {
      baseUrl: base,
      rate,
      constantS,
      rampRates,
      stepS,
      stepRampS,
      p99Ms,
      maxFailedRate,
      wait,
      drainS,
    },
    results,
    drain,
    problems,
  }, lines);
}
