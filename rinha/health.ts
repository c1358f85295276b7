/**
 * Processor health, shared by every worker: one elected checker (a Redis lock with an expiry,
 * renewed while it lives) calls each processor's health endpoint and publishes the reports in
 * `rinha:health`; every worker reads them. A per-processor gate key (`SET NX PX`) makes the rate
 * limit hold across all instances even while leadership changes hands: at most one health call
 * per interval per processor, whoever makes it.
 * @module
 */
import { errorMessage, type Logger, LuaScript, type Redis } from "@fastpix/infra";
import { fetchHealth } from "./processor_client.ts";
import type { HealthReport } from "./router.ts";
import { type ProcessorName, PROCESSORS, RINHA_KEYS } from "./store.ts";

const renewLockScript = LuaScript.fromFile("renew_lock", "./lua/renew_lock.lua", import.meta.url);

/** Settings of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  redis: Redis;
  processorUrls: Record<ProcessorName, string>;
  /** This instance's name in the lock. */
  instanceId: string;
  /** At most one health call per processor per this many ms (the challenge's limit is 5000). */
  intervalMs: number;
  /** Called with every report read from Redis (the worker feeds its router). */
  onReport: (processor: ProcessorName, report: HealthReport) => void;
  logger: Logger;
}

/** Extra spacing added to the gate so clock and network jitter never break the limit. */
const GATE_MARGIN_MS = 100;
/** How often the loop runs (elect, maybe check, read). */
const TICK_MS = 100;
/** Leadership lasts this long without renewal (a dead leader is replaced after it). */
const LOCK_TTL_MS = 1500;

/** Elects a checker, checks within the rate limit, publishes and reads the reports. */
export class HealthMonitor {
  #opts: HealthMonitorOptions;
  #timer?: ReturnType<typeof setInterval>;
  #running = false;
  #leader = false;
  #stopped = false;
  /** Health calls this instance made. */
  calls = 0;

  constructor(options: HealthMonitorOptions) {
    this.#opts = options;
  }

  /** Whether this instance holds the checker lock. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /** Starts the loop (one tick at once, then every 100 ms). */
  start(): void {
    const loop = async () => {
      if (this.#running) return;
      this.#running = true;
      try {
        await this.tick();
      } catch (error) {
        if (this.#stopped) return;
        this.#opts.logger.warn(`health loop failed: ${errorMessage(error)}; retrying`);
      } finally {
        this.#running = false;
      }
    };
    void loop();
    this.#timer = setInterval(loop, TICK_MS);
  }

  /** Stops the loop and gives up leadership. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#leader) {
      this.#leader = false;
      await renewLockScript.run(this.#opts.redis, [RINHA_KEYS.healthLeader], [
        this.#opts.instanceId,
        1,
      ]).catch(() => {});
    }
  }

  /** One round: keep or take leadership, check what is due, read every report. */
  async tick(): Promise<void> {
    const o = this.#opts;
    await this.#elect();
    if (this.#leader) {
      await Promise.all(PROCESSORS.map((p) => this.#checkIfDue(p)));
    }
    const published = await o.redis.hgetall(RINHA_KEYS.health);
    for (const p of PROCESSORS) {
      const text = published[p];
      if (text) o.onReport(p, JSON.parse(text));
    }
  }

  async #elect(): Promise<void> {
    const o = this.#opts;
    const wasLeader = this.#leader;
    if (wasLeader) {
      this.#leader = await renewLockScript.run(o.redis, [RINHA_KEYS.healthLeader], [
        o.instanceId,
        LOCK_TTL_MS,
      ]) === 1;
    }
    if (!this.#leader) {
      this.#leader = await o.redis.set(
        RINHA_KEYS.healthLeader,
        o.instanceId,
        "PX",
        LOCK_TTL_MS,
        "NX",
      ) === "OK";
    }
    if (this.#leader !== wasLeader) {
      o.logger.info(this.#leader ? "elected health checker" : "no longer the health checker");
    }
  }

  async #checkIfDue(processor: ProcessorName): Promise<void> {
    const o = this.#opts;
    const gate = await o.redis.set(
      RINHA_KEYS.healthGate(processor),
      o.instanceId,
      "PX",
      o.intervalMs + GATE_MARGIN_MS,
      "NX",
    );
    if (gate !== "OK") return;
    this.calls++;
    const result = await fetchHealth(o.processorUrls[processor], 2000);
    if (result === "rate-limited") {
      o.logger.warn(`health check of ${processor} was rate limited; keeping the last report`);
      return;
    }
    const report: HealthReport = result === "unreachable"
      ? { failing: true, minResponseTime: 0, checkedAt: Date.now() }
      : { ...result, checkedAt: Date.now() };
    await o.redis.hset(RINHA_KEYS.health, processor, JSON.stringify(report));
  }
}
