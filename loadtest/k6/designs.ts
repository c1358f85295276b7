/**
 * The queue designs side by side through the HTTP gateway: for each design (`DESIGNS`), a
 * constant-arrival-rate phase (`RATE` for `CONSTANT_DURATION`), then a ramping-arrival-rate phase
 * that climbs `RAMP_RATES` step by step to find the knee (the highest rate still served in full,
 * within `P99_MS` and `MAX_FAILED_RATE`). Designs run one after the other, each request tagged
 * with its design, phase and ramp step. `WAIT=true` asks the gateway to answer only once the
 * consumer confirmed (end-to-end latency; `basic` sends no confirmations and stays in 202 mode).
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9999 -e DESIGNS=stream loadtest/k6/designs.ts
 *
 * The summary JSON (`SUMMARY_JSON`) has one entry per design with the same names as
 * `deno task compare-fifo-vs-stream` (throughput in payments/s, latency p50/p95/p99/max in ms).
 * @module
 */
import http from "k6/http";
import exec from "k6/execution";
import { check } from "k6";
import type { Options, Scenario } from "k6/options";
import {
  backendIds,
  baseUrl,
  CONFIRMING_DESIGNS,
  countOf,
  type Design,
  DESIGNS,
  envBool,
  envFraction,
  envInt,
  envIntList,
  envList,
  envSeconds,
  latencyOf,
  type LatencySummary,
  makePayment,
  rateOf,
  type SummaryData,
  summaryOutputs,
  table,
  throughputRun,
  TREND_STATS,
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
    all[`dropped_iterations{scenario:${design}_constant}`] = ["count>=0"];
    rampRates.forEach((_, step) => {
      all[`http_reqs{design:${design},step:${step}}`] = ["count>=0"];
      all[`http_req_failed{design:${design},step:${step}}`] = ["rate>=0"];
      all[`http_req_duration{design:${design},step:${step}}`] = ["max>=0"];
    });
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
  check(response, {
    [waiting ? "confirmed (200)" : "accepted (202)"]: (r) => r.status === (waiting ? 200 : 202),
  });
}

/** One ramp step as measured. */
interface StepResult {
  offeredRate: number;
  requests: number;
  throughput: number;
  failedRate: number;
  latency: LatencySummary;
}

/** What the summary JSON holds per design. */
interface DesignResult {
  design: Design;
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
  );
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
    },
    results,
  }, lines);
}
