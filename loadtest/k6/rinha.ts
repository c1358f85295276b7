/**
 * k6 (v1.x, TypeScript) twin of `deno task bench:rinha`: the Rinha de Backend 2025 test shape
 * against a backend on BASE_URL with the processors on PROCESSOR_DEFAULT_URL and
 * PROCESSOR_FALLBACK_URL (admin token TOKEN):
 *
 * - payments ramp (open model) from 1/s to MAX_RATE/s over DURATION_S seconds, 19.90 each;
 * - the processors' delay and failure change on the challenge's schedule;
 * - every 10 s the processors' admin summaries, then the backend's, are compared over
 *   [now − 10 s, now − 100 ms]; the difference goes to `payments_inconsistency`;
 * - teardown waits (up to DRAIN) until the backend's count stays put for 2 s, then reads the
 *   totals; `handleSummary` prints and writes (SUMMARY_JSON, default
 *   `k6-rinha-summary.json`) p99, payments per processor, inconsistencies, lag, net after fees
 *   and the challenge's score. A run with no payment accepted, whose teardown never read the
 *   totals, or with accepted payments left unprocessed (lag), fails (thresholds) and says so
 *   instead of printing zeros.
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
  envSeconds,
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
/** The backend's p99 limit in ms (the challenge's bonus reaches 0 at 11 ms). */
const P99_MS = envInt("P99_MS", 3, 1);
/** How long teardown waits at most for the backend to finish what it accepted. */
const DRAIN_S = envSeconds("DRAIN", "15s");

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
    "http_req_duration{target:backend}": [`p(99)<${P99_MS}`],
    "http_req_failed{target:backend}": ["rate<0.01"],
    payments_inconsistency: ["count==0"],
    // Something was accepted and the teardown read the totals: the numbers mean nothing otherwise.
    payments_accepted: ["count>0"],
    rinha_totals_read: ["count>0"],
    payments_unprocessed: ["count==0"],
    checks: ["rate==1"],
    // Always true: they keep the payments scenario's offered load for the summary.
    "iterations{scenario:payments}": ["count>=0"],
    "dropped_iterations{scenario:payments}": ["count>=0"],
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
const totalsRead = new Counter("rinha_totals_read");
/** +1 per accepted payment, minus what the backend processed (teardown): the lag, must be 0. */
const unprocessed = new Counter("payments_unprocessed");
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

/** A processor's admin summary, or `null` (a failed check) when it did not answer 200. */
function processorSummary(p: Processor, query: string): ProcessorSummary | null {
  const res = http.get(`${PROCESSORS[p]}/admin/payments-summary${query}`, adminParams);
  check(res, { [`${p} admin summary 200`]: (r) => r.status === 200 });
  return res.status === 200 ? JSON.parse(res.body as string) : null;
}

/** The backend's summary, or `null` (a failed check) when it did not answer 200. */
function backendSummary(query: string): BackendSummary | null {
  const res = http.get(`${BASE_URL}/payments-summary${query}`, backendParams);
  check(res, { "backend summary 200": (r) => r.status === 200 });
  return res.status === 200 ? JSON.parse(res.body as string) : null;
}

const span = (from: number, to: number) =>
  `?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;

const cents = (amount: number) => Math.round(amount * 100);

/** Purges and configures the processors and the backend; resolves to when the run began. */
export function setup(): { startedAt: number } {
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
  return { startedAt: Date.now() - 1000 };
}

export function payments(): void {
  const res = http.post(
    `${BASE_URL}/payments`,
    JSON.stringify({ correlationId: uuid(), amount: AMOUNT }),
    backendParams,
  );
  if (res.status >= 200 && res.status < 300) {
    accepted.add(1);
    unprocessed.add(1);
  } else refused.add(1);
}

export function checkConsistency(): void {
  sleep(10);
  const now = Date.now();
  const query = span(now - 10_000, now - 100);
  const d = processorSummary("default", query);
  const f = processorSummary("fallback", query);
  const ours = backendSummary(query);
  if (d === null || f === null || ours === null) return; // a failed check already says so
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

export function teardown(data: { startedAt: number }): void {
  // Let the backend drain what is still queued: until its count stays put for 2 s.
  const deadline = Date.now() + DRAIN_S * 1000;
  let last = -1;
  let still = 0;
  while (still < 2 && Date.now() < deadline) {
    sleep(1);
    const ours = backendSummary(span(data.startedAt, Date.now()));
    const count = ours === null ? -1 : ours.default.totalRequests + ours.fallback.totalRequests;
    still = count === last ? still + 1 : 0;
    last = count;
  }
  const query = span(data.startedAt, Date.now());
  const d = processorSummary("default", query);
  const f = processorSummary("fallback", query);
  const ours = backendSummary(query);
  if (d === null || f === null || ours === null) return; // no totals: the run fails
  totalsRead.add(1);
  unprocessed.add(-(ours.default.totalRequests + ours.fallback.totalRequests));
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
  const measured = countOf(data, "rinha_totals_read") > 0;
  const processed = count("default") + count("fallback");
  // Offered: the payments the ramp started plus those it dropped (no VU free).
  const offered = countOf(data, "iterations{scenario:payments}") +
    countOf(data, "dropped_iterations{scenario:payments}");
  const problems: string[] = [];
  if (accepted === 0) problems.push("no payment was accepted, so nothing was measured");
  if (!measured) problems.push("teardown did not read the totals (see k6's errors above)");
  else if (processed !== accepted) {
    problems.push(`lag ${accepted - processed}: accepted ${accepted}, processed ${processed}`);
  }
  const inconsistencyAmount = countOf(data, "payments_inconsistency");
  if (inconsistencyAmount > 0) {
    problems.push(`the backend and the processors disagree by ${inconsistencyAmount.toFixed(2)}`);
  }
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
    `offered ${formatCount(offered)}, accepted ${formatCount(accepted)}, ` +
    `lag ${measured ? formatCount(accepted - processed) : "?"}, ` +
    `inconsistency ${money(inconsistencyAmount)}; ` +
    `net ${money(net)}, score ${money(score)}`,
  ];
  return summaryOutputs("rinha", {
    options: { maxRate: MAX_RATE, durationS: DURATION_S, baseUrl: BASE_URL },
    results: [{
      latency: backend,
      requests: { offered, accepted, refused: countOf(data, "payments_refused") },
      processed: {
        default: { count: count("default"), amount: amount("default"), fee: fee("default") },
        fallback: { count: count("fallback"), amount: amount("fallback"), fee: fee("fallback") },
      },
      /** Accepted but not processed when the run ended (`null`: the totals were not read). */
      lag: measured ? accepted - processed : null,
      inconsistencyAmount,
      net,
      score,
    }],
    problems,
  }, lines);
}
