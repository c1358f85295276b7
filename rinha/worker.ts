/**
 * A routing worker: reads queued payments from the stream's consumer group, pays each through the
 * processor the router picks, and records the accepted ones exactly once (see the README's
 * "Rinha de Backend mode" for the consistency argument). Entries stay pending until recorded, so a
 * worker that dies (even SIGKILLed mid-payment) loses nothing: another one reclaims its entries
 * with XAUTOCLAIM and retries them under the same processor and requestedAt while in doubt.
 * @module
 */
import {
  backoffMs,
  createLogger,
  createRedis,
  errorMessage,
  idTimeMs,
  Limiter,
  type Logger,
  type Redis,
} from "@fastpix/infra";
import { UUID_PATTERN } from "./wire.ts";
import { HealthMonitor } from "./health.ts";
import { lookupPayment, postPayment } from "./processor_client.ts";
import { DEFAULT_POLICY, Router, type RoutingPolicy } from "./router.ts";
import { type Choice, type ProcessorName, RINHA_KEYS, RinhaStore } from "./store.ts";

/** Settings of one worker process. */
export interface WorkerOptions {
  redisUrl: string;
  processorUrls: Record<ProcessorName, string>;
  /** Name in the consumer group and in the health lock. */
  consumerName: string;
  /** Payment requests in flight at once. */
  concurrency: number;
  /** Payments held at once (in flight or waiting to retry); reading pauses above it. */
  maxInHand: number;
  /** How long a payment request may take before its outcome counts as unknown. */
  requestTimeoutMs: number;
  /** Entries idle longer than this in a dead worker's hands are reclaimed. */
  idleThresholdMs: number;
  /** At most one health call per processor per this many ms, across all workers. */
  healthIntervalMs: number;
  /** How long one XREADGROUP waits. */
  blockMs: number;
  /**
   * Most payment attempts started per second: a backlog released by a recovery drains at this
   * pace instead of flooding Redis (which the APIs share) all at once.
   */
  attemptsPerSecond: number;
  policy: RoutingPolicy;
  logger?: Logger;
}

/** Defaults for everything but the connection, processors and name. */
export const WORKER_DEFAULTS = {
  concurrency: 128,
  maxInHand: 20_000,
  requestTimeoutMs: 10_000,
  idleThresholdMs: 5000,
  healthIntervalMs: 5000,
  blockMs: 200,
  attemptsPerSecond: 1500,
  policy: DEFAULT_POLICY,
} as const;

/** What a worker has done. */
export interface WorkerStats {
  /** Payments this worker counted (200, or 422 for a payment nobody had counted yet). */
  recorded: number;
  /** 422 answers: the processor already had the payment. */
  duplicates: number;
  /** Answers proving nothing was recorded (500, 429, refused connection). */
  refused: number;
  /** Attempts whose outcome was unknown (timeouts, broken connections). */
  unknown: number;
  /** Entries taken over from stalled or dead workers. */
  reclaimed: number;
  /** Entries whose payment someone had already counted. */
  alreadyCounted: number;
  /** Malformed entries dropped (not written by the API). */
  discarded: number;
}

/** Backoff between attempts of one payment: 20 ms doubling up to 1 s, with jitter. */
const retryDelayMs = (failures: number) =>
  backoffMs(failures, { baseMs: 20, maxMs: 1000, jitter: true });

type Entry = [id: string, fields: string[] | null];

/** A token bucket: `take()` resolves when an attempt may start. */
class Pace {
  #tokens: number;
  #last = performance.now();
  #queue: Promise<void> = Promise.resolve();
  constructor(readonly perSecond: number, readonly burst = Math.max(1, perSecond / 20)) {
    this.#tokens = this.burst;
  }
  take(): Promise<void> {
    this.#queue = this.#queue.then(async () => {
      for (;;) {
        const now = performance.now();
        this.#tokens = Math.min(
          this.burst,
          this.#tokens + ((now - this.#last) * this.perSecond) / 1000,
        );
        this.#last = now;
        if (this.#tokens >= 1) {
          this.#tokens--;
          return;
        }
        await new Promise((r) =>
          setTimeout(r, Math.ceil(((1 - this.#tokens) * 1000) / this.perSecond))
        );
      }
    });
    return this.#queue;
  }
}

/** One worker: a reading loop, per-payment tasks, reclaim and lease timers, a health monitor. */
export class RinhaWorker {
  readonly stats: WorkerStats = {
    recorded: 0,
    duplicates: 0,
    refused: 0,
    unknown: 0,
    reclaimed: 0,
    alreadyCounted: 0,
    discarded: 0,
  };
  readonly router: Router;
  readonly health: HealthMonitor;
  #opts: WorkerOptions;
  #log: Logger;
  #redis: Redis;
  #reader: Redis;
  #store: RinhaStore;
  #slots: Limiter;
  #pace: Pace;
  #inHand = new Map<string, Promise<void>>();
  #stopping = false;
  #stopped: Promise<void>;
  #signalStop!: () => void;
  #roomFreed?: () => void;

  constructor(options: WorkerOptions) {
    this.#opts = options;
    this.#log = options.logger ?? createLogger(`rinha worker ${options.consumerName}`);
    this.#redis = createRedis(options.redisUrl, { name: options.consumerName, logger: this.#log });
    this.#reader = createRedis(options.redisUrl, {
      name: `${options.consumerName}_reader`,
      logger: this.#log,
    });
    this.#store = new RinhaStore(this.#redis);
    this.#slots = new Limiter(options.concurrency);
    this.#pace = new Pace(options.attemptsPerSecond);
    this.router = new Router(options.policy);
    this.health = new HealthMonitor({
      redis: this.#redis,
      processorUrls: options.processorUrls,
      instanceId: options.consumerName,
      intervalMs: options.healthIntervalMs,
      onReport: (p, r) => this.router.updateHealth(p, r),
      logger: this.#log,
    });
    this.#stopped = new Promise((resolve) => this.#signalStop = resolve);
  }

  /** Payments in hand (in flight or waiting to retry). */
  get inHand(): number {
    return this.#inHand.size;
  }

  /** Stops reading; payments in hand finish their current attempt and stay pending if unpaid. */
  stop(): void {
    this.#stopping = true;
    this.#signalStop();
    this.#roomFreed?.();
  }

  /** Runs until {@link stop}. */
  async run(): Promise<WorkerStats> {
    const o = this.#opts;
    await this.#untilOk("create the queue group", () => this.#store.ensureGroup());
    this.health.start();
    const reclaimEvery = Math.max(50, Math.min(1000, o.idleThresholdMs / 2));
    const leaseEvery = Math.max(50, o.idleThresholdMs / 3);
    const reclaimTimer = setInterval(
      () => this.#guard("reclaim", () => this.#reclaim()),
      reclaimEvery,
    );
    const leaseTimer = setInterval(
      () => this.#guard("lease", () => this.#renewLeases()),
      leaseEvery,
    );
    try {
      await this.#guard("reclaim", () => this.#reclaim());
      while (!this.#stopping) await this.#readOnce();
    } finally {
      clearInterval(reclaimTimer);
      clearInterval(leaseTimer);
      // Bounded: with Redis gone, commands would wait for it forever.
      await this.#within(5000, Promise.allSettled([...this.#inHand.values()]));
      await this.#within(1000, this.health.stop());
      this.#reader.disconnect();
      this.#redis.disconnect();
    }
    return this.stats;
  }

  async #readOnce(): Promise<void> {
    const o = this.#opts;
    const room = Math.min(this.#slots.free - this.#slots.waiting, o.maxInHand - this.#inHand.size);
    if (room <= 0) {
      await new Promise<void>((resolve) => {
        this.#roomFreed = resolve;
        setTimeout(resolve, 50);
      });
      return;
    }
    let reply: [string, Entry[]][] | null;
    try {
      const read = this.#reader.xreadgroup(
        "GROUP",
        RINHA_KEYS.group,
        o.consumerName,
        "COUNT",
        Math.min(room, 200),
        "BLOCK",
        o.blockMs,
        "STREAMS",
        RINHA_KEYS.queue,
        ">",
      ) as Promise<[string, Entry[]][] | null>; // deno-fmt-ignore
      // Entries delivered after a stop stay pending in this name: another worker reclaims them.
      reply = await Promise.race([read, this.#stopped.then(() => null)]);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("NOGROUP")) {
        await this.#untilOk("recreate the queue group", () => this.#store.ensureGroup());
      } else {
        this.#log.warn(`reading the queue failed: ${errorMessage(error)}; retrying`);
        await this.#sleep(200);
      }
      return;
    }
    for (const entry of reply?.[0]?.[1] ?? []) this.#take(entry, false);
  }

  #take([id, fields]: Entry, reclaimed: boolean): void {
    if (fields === null || this.#inHand.has(id)) return;
    let cid = "", cents = 0;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === "c") cid = fields[i + 1];
      else if (fields[i] === "a") cents = Number(fields[i + 1]);
    }
    if (reclaimed) this.stats.reclaimed++;
    const receivedMs = idTimeMs(id);
    const valid = UUID_PATTERN.test(cid) && Number.isSafeInteger(cents) && cents > 0;
    const work = valid ? this.#pay(id, cid, cents, receivedMs) : this.#discard(id, fields);
    const task = work
      .catch((error) => this.#log.error(`payment ${cid} stopped: ${errorMessage(error)}`))
      .finally(() => {
        this.#inHand.delete(id);
        this.#roomFreed?.();
      });
    this.#inHand.set(id, task);
  }

  /** Pays one payment until it is recorded (or the worker stops: it then stays pending). */
  async #pay(entryId: string, correlationId: string, cents: number, receivedMs: number) {
    let failures = 0;
    while (!this.#stopping) {
      if (this.router.choices(Date.now() - receivedMs).length === 0) {
        // Nothing usable now (both down, or default down and this payment waits for it).
        await this.#sleep(retryDelayMs(failures++));
        continue;
      }
      // The pace and a slot bound the Redis and HTTP work, also when a recovery wakes thousands.
      await this.#pace.take();
      await this.#slots.acquire();
      let result: "done" | "retry";
      try {
        result = this.#stopping
          ? "done"
          : await this.#attempt(entryId, correlationId, cents, receivedMs);
      } catch (error) {
        this.#log.warn(`payment ${correlationId}: ${errorMessage(error)}; will retry`);
        result = "retry";
      } finally {
        this.#slots.release();
      }
      if (result === "done") return;
      await this.#sleep(retryDelayMs(failures++));
    }
  }

  /** One attempt: pick where and when (begin), send, then record or release. */
  async #attempt(
    entryId: string,
    correlationId: string,
    cents: number,
    receivedMs: number,
  ): Promise<"done" | "retry"> {
    const o = this.#opts;
    const now = Date.now();
    const choices: Choice[] = this.router.choices(now - receivedMs, now).map((p) => ({
      processor: p,
      requestedAtMs: now + this.router.expectedLatency(p),
    }));
    if (choices.length === 0) return "retry";
    const begun = await this.#store.begin(correlationId, choices);
    if (begun.kind === "paid") {
      this.stats.alreadyCounted++;
      await this.#store.ack(entryId);
      return "done";
    }
    if (begun.kind === "wait") return "retry";
    const p = begun.processor;
    const sentAt = performance.now();
    const outcome = await postPayment(o.processorUrls[p], {
      correlationId,
      cents,
      requestedAtMs: begun.requestedAtMs,
    }, o.requestTimeoutMs);
    if (outcome.kind === "paid" || outcome.kind === "duplicate") {
      this.router.observe(p, true, Date.now(), performance.now() - sentAt);
      let paid = { cents, requestedAtMs: begun.requestedAtMs };
      if (outcome.kind === "duplicate") {
        this.stats.duplicates++;
        // Count what the processor holds (by construction the same values we sent).
        paid = await lookupPayment(o.processorUrls[p], correlationId, 2000) ?? paid;
      }
      const counted = await this.#store.record({ correlationId, processor: p, ...paid, entryId });
      if (counted) this.stats.recorded++;
      else this.stats.alreadyCounted++;
      return "done";
    }
    this.router.observe(p, false);
    if (outcome.kind === "refused") {
      this.stats.refused++;
      await this.#store.release(correlationId, begun);
    } else {
      this.stats.unknown++;
      this.#log.debug(`payment ${correlationId} to ${p}: ${outcome.reason}; will retry`);
    }
    return "retry";
  }

  /** Drops an entry the API would never have queued (written to the stream by hand). */
  async #discard(entryId: string, fields: string[]): Promise<void> {
    this.stats.discarded++;
    this.#log.warn(
      `dropping queue entry ${entryId} ${JSON.stringify(fields).slice(0, 120)}: ` +
        "it needs a UUID in field c and whole cents above zero in field a",
    );
    await this.#store.ack(entryId);
  }

  /** Takes over entries idle past the threshold in any worker's hands (dead or stalled). */
  async #reclaim(): Promise<void> {
    const o = this.#opts;
    let cursor = "0-0";
    for (let round = 0; round < 50 && !this.#stopping; round++) {
      if (this.#inHand.size >= o.maxInHand) return;
      const [next, entries] = await this.#redis.xautoclaim(
        RINHA_KEYS.queue,
        RINHA_KEYS.group,
        o.consumerName,
        o.idleThresholdMs,
        cursor,
        "COUNT",
        200,
      ) as [string, Entry[]]; // deno-fmt-ignore
      const fresh = entries.filter(([id, f]) => f !== null && !this.#inHand.has(id));
      if (fresh.length > 0) {
        this.#log.info(`reclaimed ${fresh.length} payments idle for over ${o.idleThresholdMs} ms`);
      }
      for (const entry of fresh) this.#take(entry, true);
      cursor = next;
      if (cursor === "0-0") return;
    }
  }

  /** Resets the idle time of entries in hand, so a live worker's slow payments are not taken. */
  async #renewLeases(): Promise<void> {
    const ids = [...this.#inHand.keys()];
    // Small chunks: one long XCLAIM would hold Redis (and the APIs' commands) for milliseconds.
    for (let i = 0; i < ids.length; i += 100) {
      await this.#redis.xclaim(
        RINHA_KEYS.queue,
        RINHA_KEYS.group,
        this.#opts.consumerName,
        0,
        ...ids.slice(i, i + 100),
        "JUSTID",
      );
    }
  }

  async #guard(what: string, job: () => Promise<void>): Promise<void> {
    try {
      await job();
    } catch (error) {
      if (!this.#stopping) this.#log.warn(`${what} failed: ${errorMessage(error)}`);
    }
  }

  async #untilOk(what: string, job: () => Promise<void>): Promise<void> {
    for (let failures = 0;; failures++) {
      try {
        return await job();
      } catch (error) {
        this.#log.warn(`cannot ${what}: ${errorMessage(error)}; retrying`);
        await this.#sleep(backoffMs(failures));
        if (this.#stopping) return;
      }
    }
  }

  /** Waits for `work`, at most `ms`. */
  async #within(ms: number, work: Promise<unknown>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([work.catch(() => {}), new Promise((r) => timer = setTimeout(r, ms))]);
    clearTimeout(timer);
  }

  /** Sleeps, but wakes at once when the worker stops. */
  async #sleep(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
      this.#stopped,
    ]);
    clearTimeout(timer);
  }
}
