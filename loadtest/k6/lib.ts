/**
 * What the fastpix k6 scenarios share: settings from `__ENV` (with one clear error for a bad
 * value), payment generation in the project's wire format, and the summary JSON they write.
 * Runs inside k6 (v1.x runs TypeScript natively); type-checked by `deno task k6:check`.
 * @module
 */
/// <reference path="./k6_env.d.ts" />
import exec from "k6/execution";
import http from "k6/http";
import { sleep } from "k6";
import { Client, type RedisConnectionURL } from "k6/experimental/redis";
import { CONFIRMING_DESIGNS, DESIGN_NAMES, type DesignName } from "../../queue/design_info.ts";
import { formatNumber } from "../../pix/format.ts";

/** The queue designs, as the gateway's `?design=` names them. */
export const DESIGNS = DESIGN_NAMES;

/** One of {@link DESIGNS}. */
export type Design = DesignName;

/** Designs whose consumer writes confirmations (so `?wait=true` can answer). */
export { CONFIRMING_DESIGNS };

function bad(name: string, value: string, expected: string): never {
  throw new Error(`Bad ${name}=${JSON.stringify(value)}: expected ${expected}`);
}

/** `__ENV[name]`, or `fallback` when unset or empty. */
export function envString(name: string, fallback: string): string {
  const value = __ENV[name];
  return value === undefined || value === "" ? fallback : value;
}

/** A whole number from `__ENV[name]` in `[min, max]`. */
export function envInt(name: string, fallback: number, min = 0, max = 1e9): number {
  const text = envString(name, String(fallback));
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    bad(name, text, `a whole number from ${min} to ${max}`);
  }
  return value;
}

/** A fraction in `[0, 1]` from `__ENV[name]` (`MAX_FAILED_RATE=0.01`). */
export function envFraction(name: string, fallback: number): number {
  const text = envString(name, String(fallback));
  const value = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || value > 1) bad(name, text, "a number from 0 to 1");
  return value;
}

/** A duration in seconds from `__ENV[name]`: `90`, `90s`, `5m` or `1h`. */
export function envSeconds(name: string, fallback: string): number {
  const text = envString(name, fallback);
  const m = /^(\d+)(s|m|h)?$/.exec(text);
  if (m === null) bad(name, text, "a duration such as 30s, 5m or 1h");
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? "s"] ?? 1);
}

/** A boolean from `__ENV[name]` (true/false, 1/0, yes/no). */
export function envBool(name: string, fallback: boolean): boolean {
  const text = envString(name, String(fallback)).toLowerCase();
  if (["true", "1", "yes", "on"].includes(text)) return true;
  if (["false", "0", "no", "off"].includes(text)) return false;
  return bad(name, text, "true or false");
}

/** A comma-separated list from `__ENV[name]`, each item one of `allowed` when given. */
export function envList<T extends string>(
  name: string,
  fallback: readonly T[],
  allowed?: readonly T[],
): T[] {
  const text = envString(name, fallback.join(","));
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "") as T[];
  for (const item of items) {
    if (allowed !== undefined && !allowed.includes(item)) {
      bad(name, text, `a comma-separated list of ${allowed.join(", ")}`);
    }
  }
  if (items.length === 0) bad(name, text, "at least one item");
  return items;
}

/** A list of whole numbers (`RAMP_RATES=500,1000,2000`). */
export function envIntList(name: string, fallback: readonly number[]): number[] {
  const items = envList(name, fallback.map(String));
  return items.map((item) => {
    if (!/^\d+$/.test(item) || Number(item) < 1) {
      bad(name, items.join(","), "positive whole numbers");
    }
    return Number(item);
  });
}

/** The gateway's base URL (`BASE_URL`, default `http://127.0.0.1:9999`), without a trailing `/`. */
export function baseUrl(): string {
  const url = envString("BASE_URL", "http://127.0.0.1:9999").replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(url)) bad("BASE_URL", url, "an http:// or https:// URL");
  return url;
}

/** A Redis client for `REDIS_URL` (default `redis://127.0.0.1:6379`); call it in the init context. */
export function redisClient(): Client {
  const url = envString("REDIS_URL", "redis://127.0.0.1:6379");
  if (!/^rediss?:\/\/[^/]+/.test(url)) {
    // Not quoted back: it may hold a password.
    throw new Error("Bad REDIS_URL: expected redis://[[user]:password@]host:port");
  }
  return new Client(url as RedisConnectionURL);
}

/**
 * Whether `error` is how k6's redis client reports a nil reply: it rejects the promise of
 * `sendCommand` (and `get`, `hget`, ...) with `redis: nil` instead of resolving to `null`.
 */
export function isRedisNil(error: unknown): boolean {
  return /(^|: )redis: nil$/.test(String(error));
}

/**
 * The server's reply to `command`, with a nil reply (GET or HGET of a missing key) as `null`.
 * Every other error still rejects.
 */
export async function redisReply(
  redis: Client,
  command: string,
  ...args: string[]
): Promise<unknown> {
  try {
    return await redis.sendCommand(command, ...args);
  } catch (error) {
    if (isRedisNil(error)) return null;
    throw error;
  }
}

/** An integer reply (`GET processed_count`, `LLEN`, ...); 0 for nil (a missing counter). */
export async function redisInteger(
  redis: Client,
  command: string,
  ...args: string[]
): Promise<number> {
  const reply = await redisReply(redis, command, ...args);
  if (reply === null || reply === undefined) return 0;
  const value = Number(reply);
  if (!Number.isFinite(value)) {
    throw new Error(`${command} ${args.join(" ")} answered ${JSON.stringify(reply)}, not a number`);
  }
  return value;
}

/** A payment in the project's wire format. */
export interface Payment {
  transaction_id: string;
  backend_id: string;
  amount: string;
  timestamp: string;
  payee_key: string;
}

const runTag = Date.now().toString(36);

/**
 * A new payment: a transaction id unique in this run (`k6-<run>-<vu>-<iteration>`), a backend from
 * `backendIds`, an exact amount from 1.00 to 100,000.00 written with two decimals.
 */
export function makePayment(backendIds: readonly string[]): Payment {
  const vu = exec.vu.idInTest;
  const iteration = exec.vu.iterationInInstance;
  const cents = 100 + Math.floor(Math.random() * 9_999_901);
  const fraction = String(cents % 100).padStart(2, "0");
  return {
    transaction_id: `k6-${runTag}-${vu}-${iteration}`,
    backend_id: backendIds[(vu + iteration) % backendIds.length],
    amount: `${Math.floor(cents / 100)}.${fraction}`,
    timestamp: new Date().toISOString(),
    payee_key: `payee${vu}@fastpix.example`,
  };
}

/** Backends to spread payments over (`BACKEND_IDS`, default `1,2,3,4`). */
export function backendIds(): string[] {
  const ids = envList("BACKEND_IDS", ["1", "2", "3", "4"]);
  for (const id of ids) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      bad("BACKEND_IDS", ids.join(","), "ids of A-Z a-z 0-9 _ -");
    }
  }
  return ids;
}

/** Latency percentiles in ms, named as in `compare-fifo-vs-stream`'s `latency` and `bench`. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The part of k6's summary data the scenarios read. */
export interface SummaryData {
  metrics: Record<string, { type: string; values: Record<string, number> } | undefined>;
  state: { testRunDurationMs: number };
  setup_data?: unknown;
}

/** Trend stats every scenario asks k6 to keep (`options.summaryTrendStats`). */
export const TREND_STATS = ["avg", "min", "med", "max", "p(50)", "p(95)", "p(99)", "count"];

const round = (ms: number | undefined) => Math.round((ms ?? 0) * 1000) / 1000;

/** The latency summary of trend `name` (e.g. `http_req_duration{design:stream}`). */
export function latencyOf(data: SummaryData, name: string): LatencySummary {
  const v = data.metrics[name]?.values ?? {};
  return {
    count: v.count ?? 0,
    p50: round(v["p(50)"]),
    p95: round(v["p(95)"]),
    p99: round(v["p(99)"]),
    max: round(v.max),
    mean: round(v.avg),
  };
}

/** `count` of counter `name` (0 when it never got a sample). */
export function countOf(data: SummaryData, name: string): number {
  return data.metrics[name]?.values.count ?? 0;
}

/** `rate` of rate metric `name` (0 when it never got a sample). */
export function rateOf(data: SummaryData, name: string): number {
  return data.metrics[name]?.values.rate ?? 0;
}

/** Last `value` of gauge `name` (`null` when it never got a sample). */
export function gaugeOf(data: SummaryData, name: string): number | null {
  return data.metrics[name]?.values.value ?? null;
}

/** A design's throughput as `compare-fifo-vs-stream` writes it (one run). */
export function throughputRun(payments: number, seconds: number) {
  return { payments, seconds, perSecond: Math.round(payments / seconds * 10) / 10 };
}

/**
 * What `handleSummary` returns: JSON at `SUMMARY_JSON` (default `k6-<scenario>-summary.json` in
 * the working folder) shaped like `compare-fifo-vs-stream`'s (`at`, `command`, `options`,
 * `results[]` with `design`, `throughput[]`, `latency`), plus `ok` and `problems` (why the numbers
 * cannot be trusted or show a failure: nothing sent, the check never ran, payments lost), and
 * `lines` on stdout followed by one `FAILED:` line per problem.
 */
export function summaryOutputs(
  scenario: string,
  doc: {
    options: Record<string, unknown>;
    results: unknown[];
    problems: string[];
    [more: string]: unknown;
  },
  lines: string[],
): Record<string, string> {
  const path = envString("SUMMARY_JSON", `k6-${scenario}-summary.json`);
  const full = {
    at: new Date().toISOString(),
    command: `k6 run loadtest/k6/${scenario}.ts`,
    tool: "k6",
    scenario,
    ok: doc.problems.length === 0,
    ...doc,
  };
  const verdict = doc.problems.map((p) => `FAILED: ${p}`);
  return {
    stdout: [...lines, ...verdict, `summary JSON: ${path}`, ""].join("\n"),
    [path]: JSON.stringify(full, null, 2) + "\n",
  };
}

/**
 * What the gateway behind `base` has enqueued for `design` since it started (its `/metrics`
 * counter `fastpix_gateway_enqueued_payments_total`); throws when the page cannot be read.
 */
export function gatewayEnqueued(base: string, design: Design): number {
  // responseType "text": scenarios with `discardResponseBodies` would get no body otherwise.
  const response = http.get(`${base}/metrics`, {
    tags: { name: "metrics" },
    responseType: "text",
  });
  if (response.status !== 200) {
    throw new Error(`GET ${base}/metrics answered ${response.status}: is the gateway running?`);
  }
  if (!String(response.body ?? "").includes("fastpix_gateway_info")) {
    throw new Error(`GET ${base}/metrics is not the gateway's metrics page`);
  }
  const pattern = new RegExp(
    `^fastpix_gateway_enqueued_payments_total\\{design="${design}"\\} (\\d+)$`,
    "m",
  );
  return Number(pattern.exec(String(response.body))?.[1] ?? 0);
}

/** Payments put in and payments Redis counted as processed, both since the run began. */
export interface DrainCount {
  enqueued: number;
  processed: number;
}

/**
 * Polls `read` once a second until Redis processed at least what was enqueued or `drainS` passed;
 * once caught up, waits one more second and reads again, so a payment counted twice shows.
 */
export async function waitForDrain(
  drainS: number,
  read: () => Promise<DrainCount>,
): Promise<DrainCount & { drained: boolean }> {
  const deadline = Date.now() + drainS * 1000;
  let count = await read();
  while (count.processed < count.enqueued && Date.now() < deadline) {
    sleep(1);
    count = await read();
  }
  if (count.processed >= count.enqueued) {
    sleep(1);
    count = await read();
  }
  return { ...count, drained: count.processed >= count.enqueued };
}

/**
 * What a finished drain check says is wrong: nothing enqueued (nothing was measured), payments
 * lost or counted twice. `what` names the run (`stream`, ...).
 */
export function drainProblems(what: string, count: DrainCount): string[] {
  const problems: string[] = [];
  if (count.enqueued === 0) problems.push(`${what}: nothing was enqueued, so nothing was measured`);
  if (count.processed < count.enqueued) {
    problems.push(
      `${what}: ${count.enqueued - count.processed} of ${count.enqueued} enqueued payments ` +
        `were not processed (lost, or the drain timed out)`,
    );
  }
  if (count.processed > count.enqueued) {
    problems.push(
      `${what}: ${count.processed - count.enqueued} payments counted twice ` +
        `(processed ${count.processed}, enqueued ${count.enqueued})`,
    );
  }
  return problems;
}

/** A fixed-width text table; numbers are grouped as in every tool (`12,345.6`). */
export function table(head: string[], rows: (string | number)[][]): string[] {
  const cells = [
    head,
    ...rows.map((r) => r.map((c) => typeof c === "number" ? formatNumber(c) : c)),
  ];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join("  ");
  return [line(cells[0]), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)];
}
