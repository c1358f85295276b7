/**
 * The routing policy: which processors a payment may use right now, best first. Pure logic fed
 * with the published health reports and the worker's own outcomes.
 *
 * - A processor is up when its newest information says so: a health report, or a payment outcome
 *   seen after that report (a 500 marks it down at once; a 200 marks it up again).
 * - Default first whenever it is up and not much slower than fallback
 *   (`default ≤ fallback × slowFactor + slowSlackMs`, from `minResponseTime`).
 * - Fallback alone (default down) only for payments that have waited `fallbackAfterMs` for
 *   default: a recovered default earns 10 points more per payment, so a short wait pays.
 * - Both down: nothing (the worker retries later with backoff), except that once per
 *   `probeIntervalMs` a down processor gets one payment that would wait anyway as a probe, so
 *   recovery is noticed before the next health report.
 * @module
 */
import type { ProcessorName } from "./store.ts";

/** A processor's health as the elected checker published it. */
export interface HealthReport {
  failing: boolean;
  minResponseTime: number;
  /** Epoch ms of the check. */
  checkedAt: number;
}

/** Knobs of the policy. */
export interface RoutingPolicy {
  slowFactor: number;
  slowSlackMs: number;
  fallbackAfterMs: number;
  probeIntervalMs: number;
}

/** Defaults of {@link RoutingPolicy}. */
export const DEFAULT_POLICY: RoutingPolicy = {
  slowFactor: 3,
  slowSlackMs: 100,
  fallbackAfterMs: 1000,
  probeIntervalMs: 200,
};

interface ProcessorView {
  health?: HealthReport;
  outcome?: { ok: boolean; at: number };
  lastProbeAt: number;
  /** Moving average of the latency of accepted payments, ms. */
  latencyMs?: number;
}

/** Routing state of one worker process. */
export class Router {
  #views: Record<ProcessorName, ProcessorView> = {
    default: { lastProbeAt: 0 },
    fallback: { lastProbeAt: 0 },
  };

  constructor(readonly policy: RoutingPolicy = DEFAULT_POLICY) {}

  /** Takes a published health report (older ones than held are ignored). */
  updateHealth(processor: ProcessorName, report: HealthReport): void {
    const view = this.#views[processor];
    if (view.health && view.health.checkedAt >= report.checkedAt) return;
    view.health = report;
  }

  /**
   * Takes the outcome of a payment call: ok = answered 200/422 (with its latency), not ok = 5xx,
   * 429 or no answer.
   */
  observe(processor: ProcessorName, ok: boolean, nowMs = Date.now(), latencyMs?: number): void {
    const view = this.#views[processor];
    view.outcome = { ok, at: nowMs };
    if (ok && latencyMs !== undefined) {
      view.latencyMs = view.latencyMs === undefined
        ? latencyMs
        : view.latencyMs + (latencyMs - view.latencyMs) * 0.1;
    }
  }

  /**
   * When a payment sent now is expected to be recorded, in ms from now: the processor's
   * minResponseTime, or the recent observed latency when that is longer (the requestedAt lead).
   */
  expectedLatency(processor: ProcessorName): number {
    const view = this.#views[processor];
    return Math.round(Math.max(view.health?.minResponseTime ?? 0, view.latencyMs ?? 0));
  }

  /** Whether the newest information says the processor is up. */
  isUp(processor: ProcessorName): boolean {
    const { health, outcome } = this.#views[processor];
    if (outcome && (!health || outcome.at > health.checkedAt)) return outcome.ok;
    return health ? !health.failing : true;
  }

  /** The health report's minResponseTime (0 when unknown): what routing compares. */
  responseTime(processor: ProcessorName): number {
    return this.#views[processor].health?.minResponseTime ?? 0;
  }

  /** Usable processors for a payment received `ageMs` ago, best first (may be empty). */
  choices(ageMs: number, nowMs = Date.now()): ProcessorName[] {
    const p = this.policy;
    const d = this.isUp("default");
    const f = this.isUp("fallback");
    const fallbackDue = ageMs >= p.fallbackAfterMs;
    if (d && f) {
      const slow = this.responseTime("default") >
        this.responseTime("fallback") * p.slowFactor + p.slowSlackMs;
      return slow ? ["fallback", "default"] : ["default", "fallback"];
    }
    if (d) return ["default"];
    if (f && fallbackDue) return ["fallback"];
    // Only payments that would wait anyway probe a processor that looks down.
    if (this.#probe("default", nowMs)) return ["default"];
    if (!f && fallbackDue && this.#probe("fallback", nowMs)) return ["fallback"];
    return [];
  }

  #probe(processor: ProcessorName, nowMs: number): boolean {
    const view = this.#views[processor];
    if (nowMs - view.lastProbeAt < this.policy.probeIntervalMs) return false;
    view.lastProbeAt = nowMs;
    return true;
  }
}
