/**
 * `compare-fifo-vs-stream`: the same workload through each queue design in turn, on one private
 * Redis with fresh keys for each, measuring throughput at max speed (1 and N consumers), latency
 * at a fixed offered rate, a crash run (SIGKILL mid-run, replacement, per-payment ledger) and the
 * memory a queue of payments takes.
 *
 * Throughput excludes warm-up: consumers are started and fed warm-up payments first; then a queue
 * of payments prepared under another key is swapped in with one RENAME, and the clock runs from
 * the RENAME until `processed_count` has grown by the whole batch. The injector is not competing
 * for the CPU while consumers are measured.
 * @module
 */
import { type MachineInfo, machineInfo } from "./machine.ts";
import {
  createLatencyHistogram,
  createRedis,
  recordMs,
  type Redis,
  sleep,
  summarize,
} from "@fastpix/infra";
import {
  formatCount,
  formatNumber,
  LIST_CONSUMERS_KEY,
  listProcessingKey,
  type PaymentMessage,
  PROCESSED_COUNT_KEY,
  UserError,
} from "@fastpix/pix";
import { RedisServer } from "@fastpix/testing";
import { DESIGN_NAMES, type DesignName, type Enqueuer, enqueuerFor } from "@fastpix/queue";
import { inject, makePayment, RANDOM_BACKEND_IDS } from "@fastpix/simulators";
import { ConsumerSet } from "./design_consumers.ts";
import {
  type CrashLedger,
  crashLedger,
  GROUP,
  groupBacklog,
  heldBy,
  RESPONSE_PREFIX,
  SOURCE_LIST,
  STREAM,
} from "./ledger.ts";

/** Settings of a comparison. */
export interface CompareOptions {
  designs: readonly DesignName[];
  /** Payments per throughput run and in the memory measurement. */
  payments: number;
  /** N, the larger consumer count (the smaller is 1). */
  consumers: number;
  /** Offered rate of the latency run, payments/s. */
  rate: number;
  /** Payments in the latency run. */
  latencyPayments: number;
  /** Payments processed before measuring, after consumers start. */
  warmup: number;
  /** Payments in the crash run. */
  crashPayments: number;
  /** Simulated settlement per batch of the killed consumer, so it dies holding payments. */
  crashSettleMs: number;
  /** IDLE_THRESHOLD_MS of the crash run (reclaim, claim, heartbeat expiry). */
  idleThresholdMs: number;
  /** Consumer batch size (stream and list designs; basic takes one at a time). */
  consumerBatchSize: number;
  /** Throughput runs per consumer count; the median is reported (shared machines are noisy). */
  repeat: number;
  quick: boolean;
}

/** Defaults of a full run, or of `--quick` (under a minute for every design). */
export function compareDefaults(quick: boolean): CompareOptions {
  return {
    designs: [...DESIGN_NAMES],
    payments: quick ? 2000 : 50_000,
    consumers: quick ? 2 : 4,
    rate: quick ? 500 : 1000,
    latencyPayments: quick ? 500 : 10_000,
    warmup: quick ? 200 : 5000,
    crashPayments: quick ? 600 : 5000,
    crashSettleMs: 200,
    idleThresholdMs: 1000,
    consumerBatchSize: 500,
    repeat: quick ? 1 : 3,
    quick,
  };
}

/** Max-speed throughput with a number of consumers. */
export interface ThroughputRun {
  consumers: number;
  payments: number;
  seconds: number;
  perSecond: number;
  /** Redis CPU time during the run over its wall time (1 = one core busy throughout). */
  redisCpu: number;
  /** Consumer processes' CPU time over the run's wall time (cores busy); null off Linux. */
  consumerCpu: number | null;
  /** Consumer CPU milliseconds per 1000 payments: the client-side cost of the design. */
  consumerCpuMsPer1000: number | null;
  /** payments/s of every repetition; the run reported is the median one. */
  samples: number[];
}

/** Latency at a fixed offered rate. */
export interface LatencyRun {
  offeredRate: number;
  payments: number;
  consumers: number;
  /** `confirmations`: per payment, from its confirmation; `processed_count`: estimated by polling the counter (basic sends no confirmations). */
  method: "confirmations" | "processed_count";
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  unanswered: number;
}

/** Memory of a queue of payments, no consumer running. */
export interface MemoryRun {
  payments: number;
  /** MEMORY USAGE of the queue key. */
  bytes: number;
  /** INFO used_memory after minus before (includes allocator slack). */
  usedMemoryDelta: number;
  bytesPerPayment: number;
  mbPer100k: number;
}

/** The crash run: ledger plus how it was run. */
export interface CrashRun extends CrashLedger {
  settleMs: number;
  idleThresholdMs: number;
  /** Seconds from the kill until the replacement had drained the queue. */
  drainSeconds: number;
  /** The queue did not drain in time (the ledger then counts what was still waiting as lost). */
  timedOut: boolean;
}

/** Everything measured for one design. */
export interface DesignResult {
  design: DesignName;
  throughput: ThroughputRun[];
  latency: LatencyRun;
  crash: CrashRun;
  memory: MemoryRun;
}

/** What the comparison writes as JSON. */
export interface CompareResult {
  at: string;
  command: string;
  machine: MachineInfo & { redis: string };
  options: CompareOptions;
  results: DesignResult[];
}

const STAGING = "pix:compare:staging";
const isStream = (d: DesignName) => d === "stream" || d === "basic";

/** Options of {@link runCompare}. */
export interface RunCompareOptions {
  /** The command line, recorded in the result. */
  command?: string;
  /** Aborting kills the consumers and ends the run with a one-line error. */
  signal?: AbortSignal;
}

/** Runs the comparison on a private Redis; `onLine` hears progress. */
export async function runCompare(
  o: CompareOptions,
  onLine: (line: string) => void,
  options: RunCompareOptions = {},
): Promise<CompareResult> {
  const command = options.command ?? "deno task compare-fifo-vs-stream";
  const server = await RedisServer.start();
  const redis = createRedis(server.url, { name: "compare" });
  const sets: ConsumerSet[] = [];
  const killAll = () => sets.forEach((s) => s.killAll());
  options.signal?.addEventListener("abort", killAll);
  try {
    const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "?";
    const machine = { ...await machineInfo(), redis: redisVersion };
    const results: DesignResult[] = [];
    for (const design of o.designs) {
      const log = (s: string) => onLine(`${design}: ${s}`);
      const run = new DesignRun(design, server.url, redis, o, log, options.signal);
      results.push(await run.measure(sets));
    }
    return { at: new Date().toISOString(), command, machine, options: o, results };
  } finally {
    options.signal?.removeEventListener("abort", killAll);
    killAll();
    redis.disconnect();
    await server.stop();
  }
}

/** The phases of one design. */
class DesignRun {
  readonly enqueuer: Enqueuer;

  constructor(
    readonly design: DesignName,
    readonly url: string,
    readonly redis: Redis,
    readonly o: CompareOptions,
    readonly log: (line: string) => void,
    readonly signal?: AbortSignal,
  ) {
    this.enqueuer = enqueuerFor(design, { stream: STREAM, lists: [SOURCE_LIST] });
  }

  /** Sleeps, or ends the run when it was interrupted. */
  async #pause(ms: number): Promise<void> {
    if (this.signal?.aborted) throw new UserError("Interrupted: no report was written");
    await sleep(ms);
  }

  async measure(sets: ConsumerSet[]): Promise<DesignResult> {
    const { o, design } = this;
    await this.redis.flushall();
    const memory = await this.memory();
    this.log(`memory ${formatNumber(memory.mbPer100k, 2)} MB per 100k queued payments`);
    await this.redis.flushall();

    const consumers = new ConsumerSet(design, this.url, { batchSize: o.consumerBatchSize });
    sets.push(consumers);
    const names = Array.from({ length: o.consumers }, (_, i) => `${design}_consumer_${i + 1}`);
    const throughput: ThroughputRun[] = [];
    await consumers.start(this.redis, names.slice(0, 1), { signal: this.signal });
    for (const n of o.consumers > 1 ? [1, o.consumers] : [1]) {
      if (n > 1) await consumers.start(this.redis, names.slice(1, n), { signal: this.signal });
      await this.warmUp();
      const runs: Omit<ThroughputRun, "samples">[] = [];
      for (let i = 0; i < o.repeat; i++) runs.push(await this.throughput(n, consumers));
      const samples = runs.map((r) => r.perSecond);
      const median = [...runs].sort((a, b) => a.perSecond - b.perSecond)[(runs.length - 1) >> 1];
      this.log(
        `${n} consumer(s): ${samples.map((x) => formatCount(x)).join(", ")} payments/s`,
      );
      throughput.push({ ...median, samples });
    }
    const latency = await this.latency(o.consumers);
    this.log(
      `latency at ${formatCount(o.rate)}/s: p50 ${formatNumber(latency.p50)} p99 ${
        formatNumber(latency.p99)
      } ms`,
    );
    await consumers.stop();

    await this.redis.flushall();
    const crash = await this.crash(sets);
    this.log(
      `crash: held ${crash.held === null ? "?" : formatCount(crash.held)}, lost ${
        formatCount(crash.lost)
      }, processed twice ${formatCount(crash.processedTwice)}, recovered ${
        formatCount(crash.recovered)
      }`,
    );
    await this.redis.flushall();
    return { design, throughput, latency, crash, memory };
  }

  #payments(count: number): PaymentMessage[] {
    return Array.from(
      { length: count },
      (_, i) => makePayment({ backendId: RANDOM_BACKEND_IDS[i % RANDOM_BACKEND_IDS.length] }),
    );
  }

  /** Enqueues `payments` with `enqueuer`, 1000 per call. */
  async #enqueue(enqueuer: Enqueuer, payments: PaymentMessage[]): Promise<void> {
    for (let i = 0; i < payments.length; i += 1000) {
      await enqueuer.enqueue(this.redis, payments.slice(i, i + 1000));
    }
  }

  async #count(): Promise<number> {
    return Number(await this.redis.get(PROCESSED_COUNT_KEY) ?? 0);
  }

  /** Waits until processed_count reaches `target`; fails after `stallMs` without progress. */
  async #waitCount(target: number, stallMs = 30_000, pollMs = 2): Promise<number> {
    let last = -1, lastChange = performance.now();
    while (true) {
      const c = await this.#count();
      const now = performance.now();
      if (c >= target) return now;
      if (c !== last) [last, lastChange] = [c, now];
      if (now - lastChange > stallMs) {
        throw new Error(
          `${this.design}: processed_count stuck at ${c} of ${target} for ${stallMs / 1000} s`,
        );
      }
      await this.#pause(pollMs);
    }
  }

  /** used_cpu_user + used_cpu_sys of the Redis server, seconds. */
  async #redisCpuSeconds(): Promise<number> {
    const info = await this.redis.info("cpu");
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return field("used_cpu_user") + field("used_cpu_sys");
  }

  async warmUp(): Promise<void> {
    const base = await this.#count();
    await this.#enqueue(this.enqueuer, this.#payments(this.o.warmup));
    await this.#waitCount(base + this.o.warmup, 30_000, 10);
  }

  /** Max speed: a prepared queue swapped in with RENAME, timed until all are processed. */
  async throughput(
    consumers: number,
    processes: ConsumerSet,
  ): Promise<Omit<ThroughputRun, "samples">> {
    const { o, design, redis } = this;
    await redis.del(STAGING);
    if (isStream(design)) await redis.xgroup("CREATE", STAGING, GROUP, "0", "MKSTREAM");
    const staging = enqueuerFor(design, { stream: STAGING, lists: [STAGING] });
    await this.#enqueue(staging, this.#payments(o.payments));
    const base = await this.#count();
    const cpu0 = await this.#redisCpuSeconds();
    const consumerCpu0 = await processes.cpuSeconds();
    const t0 = performance.now();
    await redis.rename(STAGING, isStream(design) ? STREAM : SOURCE_LIST);
    const t1 = await this.#waitCount(base + o.payments);
    const seconds = (t1 - t0) / 1000;
    const cpu = (await this.#redisCpuSeconds()) - cpu0;
    const consumerCpu = (await processes.cpuSeconds()) - consumerCpu0;
    const known = Number.isFinite(consumerCpu);
    return {
      consumers,
      payments: o.payments,
      seconds: Math.round(seconds * 1000) / 1000,
      perSecond: Math.round(o.payments / seconds),
      redisCpu: Math.round((cpu / seconds) * 100) / 100,
      consumerCpu: known ? Math.round((consumerCpu / seconds) * 100) / 100 : null,
      consumerCpuMsPer1000: known ? Math.round(consumerCpu * 1e7 / o.payments) / 10 : null,
    };
  }

  /** Open-model latency at `rate` with the running consumers. */
  async latency(consumers: number): Promise<LatencyRun> {
    const { o, design } = this;
    const common = {
      redisUrl: this.url,
      enqueuer: this.enqueuer,
      numRequests: o.latencyPayments,
      batchSize: 50,
      numThreads: 2,
      backendIds: RANDOM_BACKEND_IDS,
      responsePrefix: RESPONSE_PREFIX,
      rate: o.rate,
      awaitTimeoutMs: 15_000,
    };
    const base = { offeredRate: o.rate, payments: o.latencyPayments, consumers };
    if (design !== "basic") {
      const report = await inject({ ...common, awaitConfirmations: true });
      const l = report.latency!;
      return {
        ...base,
        method: "confirmations",
        p50: l.p50,
        p95: l.p95,
        p99: l.p99,
        max: l.max,
        mean: l.mean,
        unanswered: report.unanswered,
      };
    }
    // No confirmations: payment k was due at start + k/rate (open model) and is processed when
    // processed_count first reaches it (FIFO), observed by polling every millisecond.
    const histogram = createLatencyHistogram();
    const first = await this.#count();
    let seen = first;
    const start = performance.now();
    const sending = inject({ ...common, awaitConfirmations: false });
    let lastChange = performance.now();
    while (seen < first + o.latencyPayments && performance.now() - lastChange < 15_000) {
      const c = await this.#count();
      const now = performance.now();
      for (let k = seen + 1; k <= c; k++) {
        recordMs(histogram, now - (start + (k - first - 1) * 1000 / o.rate));
      }
      if (c > seen) [seen, lastChange] = [c, now];
      await this.#pause(1);
    }
    await sending;
    const s = summarize(histogram);
    return {
      ...base,
      method: "processed_count",
      p50: s.p50,
      p95: s.p95,
      p99: s.p99,
      max: s.max,
      mean: s.mean,
      unanswered: first + o.latencyPayments - seen,
    };
  }

  /**
   * Memory of `payments` queued with no consumer running: MEMORY USAGE of the queue key (every
   * element sampled), and INFO used_memory before and after as a cross-check. The enqueue path
   * is warmed first (script cache, connection buffers) so only the queue is measured.
   */
  async memory(): Promise<MemoryRun> {
    const used = async () =>
      Number(/used_memory:(\d+)/.exec(await this.redis.info("memory"))?.[1] ?? 0);
    const key = isStream(this.design) ? STREAM : SOURCE_LIST;
    await this.#enqueue(this.enqueuer, this.#payments(1000));
    await this.redis.del(key);
    const before = await used();
    await this.#enqueue(this.enqueuer, this.#payments(this.o.payments));
    const usedMemoryDelta = (await used()) - before;
    const bytes = Number(await this.redis.memory("USAGE", key, "SAMPLES", 0));
    return {
      payments: this.o.payments,
      bytes,
      usedMemoryDelta,
      bytesPerPayment: Math.round(bytes / this.o.payments),
      mbPer100k: Math.round(bytes * 100_000 / this.o.payments / 1e4) / 100,
    };
  }

  /**
   * SIGKILLs a consumer while it holds a batch (it settles each batch for `crashSettleMs`; the
   * kill lands half-way through its second batch), starts a replacement, waits until the queue
   * is drained, then reads the per-payment ledger.
   */
  async crash(sets: ConsumerSet[]): Promise<CrashRun> {
    const { o, design, redis } = this;
    const sent = this.#payments(o.crashPayments);
    await this.#enqueue(this.enqueuer, sent);
    const defaults = { idleThresholdMs: o.idleThresholdMs, batchSize: 100 };
    const victim = new ConsumerSet(design, this.url, { ...defaults, settleMs: o.crashSettleMs });
    const rescuer = new ConsumerSet(design, this.url, defaults);
    sets.push(victim, rescuer);
    await victim.start(redis, ["victim"], { signal: this.signal });
    await this.#waitCount(1, 30_000, 5);
    await this.#pause(o.crashSettleMs / 2);
    await victim.crash("victim");
    const killedAt = performance.now();
    const held = await heldBy(redis, design, "victim");
    await rescuer.start(redis, ["rescuer"], { signal: this.signal });
    const timedOut = !(await this.#drained(o.idleThresholdMs + 30_000));
    const drainSeconds = Math.round(performance.now() - killedAt) / 1000;
    await rescuer.stop();
    const ledger = await crashLedger(redis, design, sent, held);
    return {
      ...ledger,
      settleMs: o.crashSettleMs,
      idleThresholdMs: o.idleThresholdMs,
      drainSeconds,
      timedOut,
    };
  }

  async #isDrained(): Promise<boolean> {
    const r = this.redis;
    switch (this.design) {
      case "stream":
      case "basic": {
        const { pending, lag } = await groupBacklog(r);
        return pending === 0 && lag === 0;
      }
      case "list":
        return await r.llen(SOURCE_LIST) === 0;
      case "list-reliable":
        return await r.llen(SOURCE_LIST) === 0 &&
          await r.hexists(LIST_CONSUMERS_KEY, "victim") === 0 &&
          await r.llen(listProcessingKey("rescuer")) === 0;
    }
  }

  /** Waits until the queue is drained and processed_count has been still for 300 ms. */
  async #drained(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let stableSince = performance.now(), last = -1;
    while (performance.now() < deadline) {
      const c = await this.#count();
      if (c !== last) [last, stableSince] = [c, performance.now()];
      if (performance.now() - stableSince >= 300 && await this.#isDrained()) return true;
      await this.#pause(20);
    }
    return false;
  }
}
