/**
 * Redis losing its data under a running consumer (restarted without persistence, flushed): the
 * consumer group, the counters, the idempotency marks and the queued payments are gone at once.
 * The consumers carry on (they create the group again), so the one thing to do is to say so,
 * plainly and once: {@link DataLossWatch}.
 * @module
 */
import { errorMessage, type Logger, type RedisClient } from "@fastpix/infra";
import { PROCESSED_COUNT_KEY } from "@fastpix/pix";

/** A loss is reported once: the other loops of the process notice it within this window. */
const REPORT_WINDOW_MS = 60_000;
let lastReportAt = -Infinity;

/** Options of {@link DataLossWatch}. */
export interface DataLossWatchOptions {
  /** Where the counters live (the consumer's connection). */
  redis: RedisClient;
  log: Logger;
  /** What is lost besides the counters, marks and queued payments (the group, processing lists). */
  alsoLost?: string;
  /** The counter whose disappearance tells (default `processed_count`). */
  countersKey?: string;
  /** The design can keep a PostgreSQL ledger (which refuses a transaction_id it has). */
  ledger?: boolean;
}

/**
 * Watches for a loss of Redis data under a running consumer: the counters, once seen, vanish or go
 * back (they only grow: checked every second, one GET, never two at once, so counters made again
 * by new payments before a check still tell), or the consumer had to create its group again
 * ({@link lost}). Says it in one line naming what was lost and what it means.
 */
export class DataLossWatch {
  #opts: DataLossWatchOptions;
  /** `processed_count` when last seen (`undefined`: not seen since the start or the loss). */
  #last: number | undefined;
  #busy = false;
  #timer?: ReturnType<typeof setInterval>;

  constructor(options: DataLossWatchOptions) {
    this.#opts = options;
  }

  /** Checks now and every `everyMs` until {@link stop}. */
  start(everyMs = 1000): void {
    this.#check();
    this.#timer = setInterval(() => this.#check(), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Something that cannot vanish by itself did (`what`): logs the line, once per loss. */
  lost(what: string): void {
    this.#last = undefined;
    const now = Date.now();
    if (now - lastReportAt < REPORT_WINDOW_MS) return;
    lastReportAt = now;
    const also = this.#opts.alsoLost ? `${this.#opts.alsoLost}, ` : "";
    const unless = this.#opts.ledger
      ? ", unless the PostgreSQL ledger is on (it refuses a transaction_id it has)"
      : "";
    this.#opts.log.error(
      `Redis lost its data (${what}; restarted without persistence, or flushed): ${also}the ` +
        "counters, the idempotency marks and the queued payments are gone; counts restart from " +
        `zero, and a payment from before the loss that is sent again is counted again${unless}`,
    );
  }

  async #check(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    const key = this.#opts.countersKey ?? PROCESSED_COUNT_KEY;
    try {
      const value = await this.#opts.redis.get(key);
      const last = this.#last;
      if (value === null) {
        if (last !== undefined) this.lost(`${key} vanished`);
      } else if (last !== undefined && Number(value) < last) {
        this.lost(`${key} went back from ${last} to ${value}`);
      } else {
        this.#last = Number(value);
      }
    } catch (error) {
      this.#opts.log.debug(`data loss check failed: ${errorMessage(error)}`);
    } finally {
      this.#busy = false;
    }
  }
}
