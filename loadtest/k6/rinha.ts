/**
 * k6 (v1.x, TypeScript) twin of `deno task bench:rinha`: the Rinha de Backend 2025 test shape
 * against a backend on BASE_URL with the processors on PROCESSOR_DEFAULT_URL and
 * PROCESSOR_FALLBACK_URL (admin token TOKEN):
 *
 * - payments ramp (open model) from 1/s to MAX_RATE/s over DURATION_S seconds, 19.90 each;
 * - the processors' delay and failure change on the challenge's schedule;
 * - every 10 s the processors' admin summaries, then the backend's, are compared over
 *   [now − 10 s, now − 100 ms]; the difference goes to `payments_inconsistency`;
 * - teardown reads the totals; `handleSummary` prints and writes (SUMMARY_JSON, default
 *   `k6-rinha-summary.json`) p99, payments per processor, inconsistencies, lag, net after fees
 *   and the challenge's score.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9999 loadtest/k6/rinha.ts
 * @module
 */
import http from "k6/http";
import { check, sleep } from "k6";
import exec from "k6/execution";
import { Counter } from "k6/metrics";
import type { Options, Scenario } from "k6/options";
import {
  baseUrl,
  countOf,
  envInt,
  envString,
  latencyOf,
  type SummaryData,
  summaryOutputs,
  table,
  TREND_STATS,
} from "./lib.ts";
import { formatCount, formatNumber } from "../../pix/format.ts";

const BASE_URL = baseUrl();
const PROCESSORS = {
  default: envString("PROCESSOR_DEFAULT_URL", "http://127.0.0.1:8001"),
  fallback: envString("PROCESSOR_FALLBACK_URL", "http://127.0.0.1:8002"),
} as const;
type Processor = keyof typeof PROCESSORS;
const TOKEN = envString("TOKEN", "123");
const MAX_RATE = envInt("MAX_RATE", 600, 1, 100_000);
const DURATION_S = envInt("DURATION_S", 60, 6, 86_400);
const AMOUNT = 19.9;

/** The challenge's schedule: [second, default delay, default failure, fallback delay, fallback failure]. */
const SCHEDULE: [number, number, boolean, number, boolean][] = [
  [1, 0, false, 0, false],
  [10, 100, false, 0, false],
  [20, 100, true, 0, false],
  [30, 2000, true, 1000, true],
  [40, 20, false, 20, false],
  [50, 0, false, 5000, false],
];

const stageScenarios: Record<string, Scenario> = Object.fromEntries(SCHEDULE.map((
  [second, dd, df, fd, ff],
  i,
) => [
  `stage_${i}`,
  {
    executor: "per-vu-iterations" as const,
    exec: "defineStage",
    vus: 1,
    iterations: 1,
    startTime: `${Math.round((second * DURATION_S) / 60)}s`,
    tags: {
      defaultDelay: String(dd),
      defaultFailure: String(df),
      fallbackDelay: String(fd),
      fallbackFailure: String(ff),
    },
  },
]));

export const options: Options = {
  summaryTrendStats: TREND_STATS,
  thresholds: {
    "http_req_duration{target:backend}": ["p(99)<3"],
    "http_req_failed{target:backend}": ["rate<0.01"],
    payments_inconsistency: ["count==0"],
  },
  scenarios: {
    payments: {
      executor: "ramping-arrival-rate",
      exec: "payments",
      startRate: 1,
      timeUnit: "1s",
      preAllocatedVUs: 50,
      maxVUs: 1000,
      stages: [{ target: MAX_RATE, duration: `${DURATION_S}s` }],
    },
    consistency: {
      executor: "constant-vus",
      exec: "checkConsistency",
      vus: 1,
      duration: `${DURATION_S}s`,
    },
    ...stageScenarios,
  },
};

const inconsistency = new Counter("payments_inconsistency");
const accepted = new Counter("payments_accepted");
const refused = new Counter("payments_refused");
const totals = {
  defaultCount: new Counter("default_total_requests"),
  defaultAmount: new Counter("default_total_amount"),
  defaultFee: new Counter("default_total_fee"),
  fallbackCount: new Counter("fallback_total_requests"),
  fallbackAmount: new Counter("fallback_total_amount"),
  fallbackFee: new Counter("fallback_total_fee"),
};

const adminParams = {
  headers: { "X-Rinha-Token": TOKEN, "Content-Type": "application/json" },
  tags: { target: "processor" },
};
const backendParams = {
  headers: { "Content-Type": "application/json" },
  tags: { target: "backend" },
};

/** A random v4 UUID (uniqueness is all the test needs). */
function uuid(): string {
  const hex = "0123456789abcdef";
  let out = "";
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) out += "-";
    else if (i === 14) out += "4";
    else if (i === 19) out += hex[8 + Math.floor(Math.random() * 4)];
    else out += hex[Math.floor(Math.random() * 16)];
  }
  return out;
}

interface ProcessorSummary {
  totalRequests: number;
  totalAmount: number;
  totalFee: number;
  feePerTransaction: number;
}
interface BackendSummary {
  default: { totalRequests: number; totalAmount: number };
  fallback: { totalRequests: number; totalAmount: number };
}

function processorSummary(p: Processor, query: string): ProcessorSummary {
  const res = http.get(`${PROCESSORS[p]}/admin/payments-summary${query}`, adminParams);
  check(res, { [`${p} admin summary 200`]: (r) => r.status === 200 });
  return res.status === 200
    ? JSON.parse(res.body as string)
    : { totalRequests: 0, totalAmount: 0, totalFee: 0, feePerTransaction: 0 };
}

function backendSummary(query: string): BackendSummary {
  const res = http.get(`${BASE_URL}/payments-summary${query}`, backendParams);
  check(res, { "backend summary 200": (r) => r.status === 200 });
  return res.status === 200 ? JSON.parse(res.body as string) : {
    default: { totalRequests: 0, totalAmount: 0 },
    fallback: { totalRequests: 0, totalAmount: 0 },
  };
}

const cents = (amount: number) => Math.round(amount * 100);

export function setup(): void {
  for (const p of ["default", "fallback"] as const) {
    const purge = http.post(`${PROCESSORS[p]}/admin/purge-payments`, null, adminParams);
    if (purge.status !== 200) exec.test.abort(`Cannot purge ${p} (HTTP ${purge.status})`);
    const token = http.put(
      `${PROCESSORS[p]}/admin/configurations/token`,
      JSON.stringify({ token: TOKEN }),
      adminParams,
    );
    if (token.status !== 204) {
      exec.test.abort(`Cannot set the token of ${p} (HTTP ${token.status})`);
    }
  }
  http.post(`${BASE_URL}/purge-payments`, null, backendParams);
}

export function payments(): void {
  const res = http.post(
    `${BASE_URL}/payments`,
    JSON.stringify({ correlationId: uuid(), amount: AMOUNT }),
    backendParams,
  );
  if (res.status >= 200 && res.status < 300) accepted.add(1);
  else refused.add(1);
}

export function checkConsistency(): void {
  sleep(10);
  const now = Date.now();
  const query = `?from=${new Date(now - 10_000).toISOString()}&to=${
    new Date(now - 100).toISOString()
  }`;
  const d = processorSummary("default", query);
  const f = processorSummary("fallback", query);
  const ours = backendSummary(query);
  const difference = Math.abs(cents(ours.default.totalAmount) - cents(d.totalAmount)) +
    Math.abs(cents(ours.fallback.totalAmount) - cents(f.totalAmount));
  inconsistency.add(difference / 100);
}

export function defineStage(): void {
  const tags = exec.vu.metrics.tags;
  for (const p of ["default", "fallback"] as const) {
    const delay = http.put(
      `${PROCESSORS[p]}/admin/configurations/delay`,
      JSON.stringify({ delay: Number(tags[`${p}Delay`]) }),
      adminParams,
    );
    const failure = http.put(
      `${PROCESSORS[p]}/admin/configurations/failure`,
      JSON.stringify({ failure: tags[`${p}Failure`] === "true" }),
      adminParams,
    );
    check(delay, { "delay set": (r) => r.status === 200 });
    check(failure, { "failure set": (r) => r.status === 200 });
  }
}

export function teardown(): void {
  sleep(5); // let the backend drain what is still queued
  const to = new Date();
  const from = new Date(to.getTime() - (DURATION_S + 15) * 1000);
  const query = `?from=${from.toISOString()}&to=${to.toISOString()}`;
  const d = processorSummary("default", query);
  const f = processorSummary("fallback", query);
  const ours = backendSummary(query);
  totals.defaultCount.add(ours.default.totalRequests);
  totals.defaultAmount.add(ours.default.totalAmount);
  totals.defaultFee.add(ours.default.totalAmount * d.feePerTransaction);
  totals.fallbackCount.add(ours.fallback.totalRequests);
  totals.fallbackAmount.add(ours.fallback.totalAmount);
  totals.fallbackFee.add(ours.fallback.totalAmount * f.feePerTransaction);
  inconsistency.add(
    (Math.abs(cents(ours.default.totalAmount) - cents(d.totalAmount)) +
      Math.abs(cents(ours.fallback.totalAmount) - cents(f.totalAmount))) / 100,
  );
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const backend = latencyOf(data, "http_req_duration{target:backend}");
  const amount = (p: Processor) => countOf(data, `${p}_total_amount`);
  const fee = (p: Processor) => countOf(data, `${p}_total_fee`);
  const count = (p: Processor) => countOf(data, `${p}_total_requests`);
  const accepted = countOf(data, "payments_accepted");
  const processed = count("default") + count("fallback");
  const inconsistencyAmount = countOf(data, "payments_inconsistency");
  const net = amount("default") + amount("fallback") - fee("default") - fee("fallback");
  const bonus = Math.max((11 - backend.p99) * 0.02, 0);
  const fine = inconsistencyAmount > 0 || processed !== accepted ? 0.35 : 0;
  const score = net + net * bonus - net * fine;
  const money = (v: number) => formatNumber(v, 2);
  const lines = [
    ...table(["processor", "payments", "amount", "fee"], [
      ["default", count("default"), money(amount("default")), money(fee("default"))],
      ["fallback", count("fallback"), money(amount("fallback")), money(fee("fallback"))],
    ]),
    `backend HTTP p50 ${formatNumber(backend.p50)} ms, p99 ${formatNumber(backend.p99)} ms; ` +
    `accepted ${formatCount(accepted)}, lag ${formatCount(accepted - processed)}, ` +
    `inconsistency ${money(inconsistencyAmount)}; ` +
    `net ${money(net)}, score ${money(score)}`,
  ];
  return summaryOutputs("rinha", {
    options: { maxRate: MAX_RATE, durationS: DURATION_S, baseUrl: BASE_URL },
    results: [{
      latency: backend,
      requests: { accepted, refused: countOf(data, "payments_refused") },
      processed: {
        default: { count: count("default"), amount: amount("default"), fee: fee("default") },
        fallback: { count: count("fallback"), amount: amount("fallback"), fee: fee("fallback") },
      },
      lag: accepted - processed,
      inconsistencyAmount,
      net,
      score,
    }],
  }, lines);
}
