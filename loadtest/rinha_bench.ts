/**
 * The Rinha de Backend 2025 test, reproduced: payments ramp up to `maxRate` per second over the
 * run, the processors' delay and failure change on the challenge's schedule, and every 10 s the
 * backend's `/payments-summary` is compared with the processors' admin summaries (processors
 * first, then the backend, window [now − 10 s, now − 100 ms], as the challenge's script does).
 * Reports the p99 of every HTTP call to the backend, payments per processor, inconsistencies,
 * the lag at the end, and the net amount after fees with the challenge's scoring.
 * @module
 */
import { type MachineInfo, machineInfo } from "./machine.ts";
import { ChildTool, freePort, RedisServer } from "@fastpix/testing";
import {
  createLatencyHistogram,
  type LatencyHistogram,
  type LatencySummary,
  recordMs,
  sleep,
  summarize,
} from "@fastpix/infra";
import { formatBrl, formatCents, formatCount } from "@fastpix/pix";

/** One change of the processors' behaviour, at a fraction of the run. */
export interface Stage {
  /** When, as a fraction of the run (0..1). */
  at: number;
  default: { delay: number; failure: boolean };
  fallback: { delay: number; failure: boolean };
}

/** The challenge's schedule (its k6 script changes the processors at 1, 10, 20, ... 50 s of 60). */
export const RINHA_SCHEDULE: readonly Stage[] = [
  { at: 1 / 60, default: { delay: 0, failure: false }, fallback: { delay: 0, failure: false } },
  { at: 10 / 60, default: { delay: 100, failure: false }, fallback: { delay: 0, failure: false } },
  { at: 20 / 60, default: { delay: 100, failure: true }, fallback: { delay: 0, failure: false } },
  {
    at: 30 / 60,
    default: { delay: 2000, failure: true },
    fallback: { delay: 1000, failure: true },
  },
  { at: 40 / 60, default: { delay: 20, failure: false }, fallback: { delay: 20, failure: false } },
  { at: 50 / 60, default: { delay: 0, failure: false }, fallback: { delay: 5000, failure: false } },
];

/** Settings of a run. */
export interface RinhaBenchOptions {
  /** A running backend; when omitted, one is started (private Redis, simulators, `rinha`). */
  url?: string;
  /** The processors (required with `url`). */
  processorUrls?: { default: string; fallback: string };
  token: string;
  durationS: number;
  /** Rate reached at the end of the ramp, payments/s. */
  maxRate: number;
  checkEveryS: number;
  /** How long to wait after the load for the backlog to drain. */
  drainS: number;
  apis: number;
  workers: number;
  /** Fixed amount of every payment, in cents (the challenge sends 19.90). */
  amountCents: number;
  schedule: readonly Stage[];
  /** Seconds of the same ramp against a trivial server first (0: none). */
  baselineS: number;
}

/** One consistency check. */
export interface Check {
  at: number;
  from: string;
  to: string;
  /** |Δ default amount| + |Δ fallback amount|, in cents. */
  differenceCents: number;
  backend: { default: [number, number]; fallback: [number, number] };
  processors: { default: [number, number]; fallback: [number, number] };
}

/** What `deno task bench:rinha` prints and writes. */
export interface RinhaBenchReport {
  at: string;
  machine: MachineInfo;
  options: Omit<RinhaBenchOptions, "schedule"> & { schedule: string };
  requests: { sent: number; accepted: number; failed: number };
  latency: { all: LatencySummary; payments: LatencySummary; summary: LatencySummary };
  /** The same generator against a trivial Deno.serve: the machine's floor at that moment. */
  baseline: LatencySummary | null;
  /** Latency of all calls per tenth of the run (the schedule changes at 1/6, 2/6, ...). */
  latencyBySlice: LatencySummary[];
  processed: {
    default: { count: number; amount: string; fee: string };
    fallback: { count: number; amount: string; fee: string };
  };
  /** Accepted payments not processed when the drain ended. */
  lag: number;
  checks: Check[];
  inconsistentChecks: number;
  inconsistencyAmount: string;
  /** total amount − fees, and the challenge's score: net + net × p99 bonus − net × 35 % if inconsistent. */
  net: string;
  score: string;
  drainMs: number;
  /** How far the load generator fell behind its schedule at worst (a sign of CPU contention). */
  generatorLagMs: number;
  /** The machine's 1-minute load average before and after the run. */
  loadAverage: { before: number; after: number };
}

interface Summaries {
  default: [count: number, cents: number];
  fallback: [count: number, cents: number];
}

const toCents = (amount: number) => Math.round(amount * 100);

/** Everything the bench started, to stop at the end. */
class Stack {
  redis?: RedisServer;
  children: ChildTool[] = [];
  async stop(): Promise<void> {
    for (const c of this.children) c.kill("SIGTERM");
    await Promise.all(this.children.map((c) => c.finished()));
    await this.redis?.stop();
  }
}

async function waitHttp(url: string, what: string, stack: Stack): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  const outputs = await Promise.all(stack.children.map((c) => (c.kill("SIGTERM"), c.finished())));
  throw new Error(`${what} did not start:\n${outputs.map((o) => o.output).join("\n")}`);
}

async function startStack(o: RinhaBenchOptions, stack: Stack) {
  stack.redis = await RedisServer.start();
  const ports = { default: freePort(), fallback: freePort(), api: freePort() };
  const processorUrls = {
    default: `http://127.0.0.1:${ports.default}`,
    fallback: `http://127.0.0.1:${ports.fallback}`,
  };
  const env = { LOG_LEVEL: "warn" };
  for (const name of ["default", "fallback"] as const) {
    stack.children.push(
      new ChildTool("simulators/processor_command.ts", {
        args: ["--name", name, "--port", String(ports[name]), "--token", o.token],
        env,
        nice: 10, // stand-ins for the challenge's processors, which run on their own CPUs
      }),
    );
  }
  stack.children.push(
    new ChildTool("rinha/rinha_command.ts", {
      args: [
        "start",
        "--port",
        String(ports.api),
        "--apis",
        String(o.apis),
        "--workers",
        String(o.workers),
      ],
      env: {
        ...env,
        REDIS_URL: stack.redis.url,
        PROCESSOR_DEFAULT_URL: processorUrls.default,
        PROCESSOR_FALLBACK_URL: processorUrls.fallback,
      },
    }),
  ); // deno-fmt-ignore
  const url = `http://127.0.0.1:${ports.api}`;
  await waitHttp(`${processorUrls.default}/`, "the default processor", stack);
  await waitHttp(`${processorUrls.fallback}/`, "the fallback processor", stack);
  await waitHttp(`${url}/payments-summary`, "the backend", stack);
  return { url, processorUrls };
}

/**
 * Open model: the rate grows linearly from 1/s to `maxRate`/s over `durationS`; every payment due
 * by a tick is sent at that tick. Resolves to how far behind its schedule it fell at worst, in ms.
 */
async function ramp(
  durationS: number,
  maxRate: number,
  send: () => void,
  sent: () => number,
): Promise<number> {
  const started = Date.now();
  const rate = (s: number) => 1 + (maxRate - 1) * Math.min(1, s / durationS);
  const a = (maxRate - 1) / (2 * durationS);
  let lagMs = 0;
  while (Date.now() - started < durationS * 1000) {
    const s = (Date.now() - started) / 1000;
    const due = Math.floor(s * (1 + rate(s)) / 2);
    if (due > sent()) {
      // When the oldest unsent payment fell due: solve n = t + a·t² for t.
      const dueAt = a > 0 ? (Math.sqrt(1 + 4 * a * (sent() + 1)) - 1) / (2 * a) : sent() + 1;
      lagMs = Math.max(lagMs, (s - dueAt) * 1000);
    }
    while (sent() < due) send();
    await sleep(2);
  }
  return Math.round(lagMs);
}

/** Runs the challenge's shape against a backend; `onLine` gets progress lines. */
export async function runRinhaBench(
  o: RinhaBenchOptions,
  onLine: (line: string) => void,
): Promise<RinhaBenchReport> {
  const stack = new Stack();
  try {
    const baseline = o.baselineS > 0 ? await measureBaseline(o, stack) : null;
    if (baseline) {
      onLine(`baseline (trivial server): p50 ${baseline.p50} ms, p99 ${baseline.p99} ms`);
    }
    const { url, processorUrls } = o.url && o.processorUrls
      ? { url: o.url, processorUrls: o.processorUrls }
      : await startStack(o, stack);
    return { ...await measure(o, url, processorUrls, onLine), baseline };
  } finally {
    await stack.stop();
  }
}

/** A ramp to the same peak rate over `baselineS` against `hello_server.ts`. */
async function measureBaseline(o: RinhaBenchOptions, stack: Stack): Promise<LatencySummary> {
  const port = freePort();
  const server = new ChildTool("loadtest/hello_server.ts", { args: [String(port)] });
  stack.children.push(server);
  await waitHttp(`http://127.0.0.1:${port}/`, "the baseline server", stack);
  const histogram = createLatencyHistogram();
  const body = `{"correlationId":"${crypto.randomUUID()}","amount":${formatCents(o.amountCents)}}`;
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  const send = () => {
    sent++;
    const t0 = performance.now();
    inFlight.push(
      fetch(`http://127.0.0.1:${port}/payments`, { method: "POST", body })
        .then((r) => r.text())
        .then(() => recordMs(histogram, performance.now() - t0), () => {}),
    );
  };
  await ramp(o.baselineS, o.maxRate, send, () => sent);
  await Promise.all(inFlight);
  server.kill("SIGTERM");
  await server.finished();
  stack.children.splice(stack.children.indexOf(server), 1);
  return summarize(histogram);
}

async function measure(
  o: RinhaBenchOptions,
  url: string,
  processorUrls: { default: string; fallback: string },
  onLine: (line: string) => void,
): Promise<Omit<RinhaBenchReport, "baseline">> {
  const admin = (p: "default" | "fallback", path: string, init: RequestInit = {}) =>
    fetch(`${processorUrls[p]}${path}`, {
      ...init,
      headers: { "X-Rinha-Token": o.token, "content-type": "application/json" },
    });
  const setStage = async (stage: Stage) => {
    for (const p of ["default", "fallback"] as const) {
      for (const what of ["delay", "failure"] as const) {
        const r = await admin(p, `/admin/configurations/${what}`, {
          method: "PUT",
          body: JSON.stringify({ [what]: stage[p][what] }),
        });
        await r.body?.cancel();
        if (!r.ok) throw new Error(`Cannot set ${what} of ${p}: HTTP ${r.status}`);
      }
    }
  };
  for (const p of ["default", "fallback"] as const) {
    await (await admin(p, "/admin/purge-payments", { method: "POST" })).body?.cancel();
  }
  await (await fetch(`${url}/purge-payments`, { method: "POST" })).body?.cancel();
  await setStage(o.schedule[0]);

  const all = createLatencyHistogram();
  const paymentsLatency = createLatencyHistogram();
  const summaryLatency = createLatencyHistogram();
  // Per 10 % of the run, to see whether slow calls follow the schedule or the machine.
  const slices = Array.from({ length: 10 }, () => createLatencyHistogram());
  let loadStart = 0;
  const timed = async (histogram: LatencyHistogram, request: () => Promise<Response>) => {
    const t0 = performance.now();
    const response = await request();
    const body = await response.text();
    const ms = performance.now() - t0;
    recordMs(histogram, ms);
    recordMs(all, ms);
    if (loadStart > 0) {
      const slice = Math.floor(((Date.now() - loadStart) / (o.durationS * 1000)) * 10);
      recordMs(slices[Math.min(9, Math.max(0, slice))], ms);
    }
    return { response, body };
  };
  const backendSummary = async (query: string): Promise<Summaries> => {
    const { response, body } = await timed(
      summaryLatency,
      () => fetch(`${url}/payments-summary${query}`),
    );
    if (!response.ok) throw new Error(`GET /payments-summary answered ${response.status}: ${body}`);
    const s = JSON.parse(body);
    return {
      default: [s.default.totalRequests, toCents(s.default.totalAmount)],
      fallback: [s.fallback.totalRequests, toCents(s.fallback.totalAmount)],
    };
  }; // deno-fmt-ignore
  const processorSummary = async (p: "default" | "fallback", query: string) => {
    const r = await admin(p, `/admin/payments-summary${query}`);
    const s = await r.json();
    return {
      count: s.totalRequests as number,
      cents: toCents(s.totalAmount),
      feePerTransaction: s.feePerTransaction as number,
    };
  };
  const checks: Check[] = [];
  const check = async (from: Date, to: Date) => {
    const query = `?from=${from.toISOString()}&to=${to.toISOString()}`;
    const d = await processorSummary("default", query);
    const f = await processorSummary("fallback", query);
    const ours = await backendSummary(query);
    const c: Check = {
      at: Date.now(),
      from: from.toISOString(),
      to: to.toISOString(),
      differenceCents: Math.abs(ours.default[1] - d.cents) + Math.abs(ours.fallback[1] - f.cents),
      backend: ours,
      processors: { default: [d.count, d.cents], fallback: [f.count, f.cents] },
    };
    checks.push(c);
    return c;
  };

  const payload = formatCents(o.amountCents);
  const requests = { sent: 0, accepted: 0, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  const send = () => {
    requests.sent++;
    const body = `{"correlationId":"${crypto.randomUUID()}","amount":${payload}}`;
    const task = timed(paymentsLatency, () =>
      fetch(`${url}/payments`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      }))
      .then(({ response }) => {
        if (response.status >= 200 && response.status < 300) requests.accepted++;
        else requests.failed++;
      })
      .catch(() => {
        requests.failed++;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  const loadBefore = Deno.loadavg()[0];
  const durationMs = o.durationS * 1000;
  const started = Date.now();
  loadStart = started;
  const timers: ReturnType<typeof setTimeout>[] = [];
  for (const stage of o.schedule.slice(1)) {
    timers.push(setTimeout(() => {
      setStage(stage).then(
        () =>
          onLine(
            `stage at ${(stage.at * o.durationS).toFixed(0)} s: default ${
              JSON.stringify(stage.default)
            } fallback ${JSON.stringify(stage.fallback)}`,
          ),
        (e) => onLine(`cannot set the stage: ${e}`),
      );
    }, stage.at * durationMs));
  } // deno-fmt-ignore
  const checking = (async () => {
    for (let t = o.checkEveryS * 1000; t <= durationMs; t += o.checkEveryS * 1000) {
      await sleep(Math.max(0, started + t - Date.now()));
      const now = Date.now();
      const c = await check(new Date(now - 10_000), new Date(now - 100));
      onLine(
        `check at ${((now - started) / 1000).toFixed(0)} s: sent ${formatCount(requests.sent)}, ` +
          `difference ${formatBrl(c.differenceCents)}`,
      );
    }
  })();

  const generatorLagMs = await ramp(o.durationS, o.maxRate, send, () => requests.sent);
  for (const t of timers) clearTimeout(t);
  await checking;
  await Promise.all(inFlight);
  const loadEnd = Date.now();

  // Drain: wait until the backend has processed everything it accepted (or give up).
  let processed = 0;
  while (Date.now() - loadEnd < o.drainS * 1000) {
    const s = await backendSummary("");
    processed = s.default[0] + s.fallback[0];
    if (processed >= requests.accepted) break;
    await sleep(250);
  }
  const drainMs = Date.now() - loadEnd;
  const final = await check(new Date(started - 1000), new Date(Date.now() + 10_000));
  const fees = {
    default: (await processorSummary("default", "")).feePerTransaction,
    fallback: (await processorSummary("fallback", "")).feePerTransaction,
  };
  onLine(
    `drained in ${formatCount(drainMs)} ms; final difference ${formatBrl(final.differenceCents)}`,
  );

  // Money in micro-units (10^-6 BRL): cents × fee in ten-thousandths is exact.
  const feeMicros = (cents: number, fee: number) =>
    BigInt(cents) * BigInt(Math.round(fee * 10_000));
  const micro = (v: bigint) => {
    const sign = v < 0n ? "-" : "";
    const a = v < 0n ? -v : v;
    return `${sign}${a / 1_000_000n}.${(a % 1_000_000n).toString().padStart(6, "0").slice(0, 2)}`;
  };
  const dCents = final.backend.default[1], fCents = final.backend.fallback[1];
  const feeD = feeMicros(dCents, fees.default), feeF = feeMicros(fCents, fees.fallback);
  const net = BigInt(dCents + fCents) * 10_000n - feeD - feeF;
  const latencyAll = summarize(all);
  const inconsistentChecks = checks.filter((c) => c.differenceCents !== 0).length;
  const bonus = Math.max((11 - latencyAll.p99) * 0.02, 0);
  const fine = inconsistentChecks > 0 || processed !== requests.accepted ? 0.35 : 0;
  const score = net + BigInt(Math.round(Number(net) * bonus)) -
    BigInt(Math.round(Number(net) * fine));
  return {
    at: new Date().toISOString(),
    machine: await machineInfo(),
    options: { ...o, schedule: o.schedule === RINHA_SCHEDULE ? "rinha" : "custom" },
    requests,
    latency: {
      all: latencyAll,
      payments: summarize(paymentsLatency),
      summary: summarize(summaryLatency),
    },
    latencyBySlice: slices.map((h) => summarize(h)),
    processed: {
      default: { count: final.backend.default[0], amount: formatCents(dCents), fee: micro(feeD) },
      fallback: { count: final.backend.fallback[0], amount: formatCents(fCents), fee: micro(feeF) },
    },
    lag: requests.accepted - processed,
    checks,
    inconsistentChecks,
    inconsistencyAmount: formatCents(checks.reduce((s, c) => s + c.differenceCents, 0)),
    net: micro(net),
    score: micro(score),
    drainMs,
    generatorLagMs,
    loadAverage: { before: loadBefore, after: Deno.loadavg()[0] },
  }; // deno-fmt-ignore
}
