/**
 * Shutdown in bounded time, the same for every design. On SIGTERM/SIGINT a consumer with nothing
 * in hand is cut off from Redis after {@link IDLE_STOP_MS} if it is still waiting on it (a blocking
 * read, a Redis that does not answer), so it exits within 2 s whatever Redis is doing. A consumer
 * with a batch in hand finishes it; if Redis does not let it within `SHUTDOWN_TIMEOUT_MS`, it
 * closes its connections and leaves the batch where it is: pending in the stream, or in its
 * processing list, for another consumer to take over (the plain list cannot: its popped batch is
 * dropped, that design's documented loss). {@link describeStop} says which, in one line.
 * @module
 */
import { stopOnSignals } from "@fastpix/cli";
import { type Logger, type RedisTarget, unhealableReason, unusableRedis } from "@fastpix/infra";

/** Default of `SHUTDOWN_TIMEOUT_MS` / `--shutdown-timeout-ms`. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * With nothing in hand, how long after the stop a consumer may still wait on Redis before its
 * connections are closed (a blocking read with the default `BLOCK_MS` returns sooner; the plain
 * list caps its BRPOP at half of this, since a BRPOP cut off after Redis popped loses the payload).
 */
export const IDLE_STOP_MS = 1000;

/** How one consumer stopped. */
export interface StopOutcome {
  /** Payments it finished after the stop was asked. */
  finished: number;
  /** Payments in hand when Redis was cut off (pending for others, or dropped: plain list). */
  left: number;
  /** Its connections were closed before it was done with Redis. */
  cutOff: boolean;
  /** The batch left in hand had been sent to Redis (which may still apply it when it answers). */
  sent: boolean;
}

/** Options of {@link Shutdown}. */
export interface ShutdownOptions {
  /** How long a batch in hand may take to finish after the stop (`SHUTDOWN_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** See {@link IDLE_STOP_MS}. */
  idleMs?: number;
  /** Closes the consumer's connections at once, failing what is in flight. */
  close: () => void;
}

/** A consumer's stop: whether it was asked, what it holds, and the clocks that bound it. */
export class Shutdown {
  #opts: ShutdownOptions;
  #stopping = false;
  #ended = false;
  #held = 0;
  #outcome: StopOutcome = { finished: 0, left: 0, cutOff: false, sent: false };
  #sent = false;
  #fatal: unknown;
  #abort = new AbortController();
  #abortCut = new AbortController();
  #idleTimer?: ReturnType<typeof setTimeout>;
  #deadlineTimer?: ReturnType<typeof setTimeout>;

  constructor(options: ShutdownOptions) {
    this.#opts = options;
  }

  /** Whether a stop was asked. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Whether the connections were closed under the consumer: what failed now is no error. */
  get cutOff(): boolean {
    return this.#outcome.cutOff;
  }

  /** Aborted when the stop is asked: pass it to waits (backoff sleeps) that should end then. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Aborted when the connections are cut off: for waits that should end only then. */
  get cutSignal(): AbortSignal {
    return this.#abortCut.signal;
  }

  /** The error that stopped the consumer for good (see {@link fail}); `undefined`: none. */
  get fatal(): unknown {
    return this.#fatal;
  }

  /** Payments in hand now. */
  get held(): number {
    return this.#held;
  }

  /** How it went (final once {@link end} was called). */
  get outcome(): StopOutcome {
    return { ...this.#outcome };
  }

  /** Asks the consumer to stop: finish what it holds, within the bounds. Idempotent. */
  stop(): void {
    if (this.#stopping || this.#ended) return;
    this.#stopping = true;
    this.#abort.abort();
    this.#deadlineTimer = setTimeout(
      () => this.#cut(),
      this.#opts.timeoutMs ?? SHUTDOWN_TIMEOUT_MS,
    );
    if (this.#held === 0) this.#armIdle();
  }

  /**
   * Stops for good, at once, on an error no retry heals (`unhealableReason`): the connections are
   * closed, what is in hand stays where it is, and {@link fatal} holds `error`. The first one wins.
   */
  fail(error: unknown): void {
    if (this.#fatal !== undefined || this.#ended) return;
    this.#fatal = error;
    this.#stopping = true;
    this.#abort.abort();
    this.#cut();
  }

  /** {@link fail}s when `error` is one no retry heals; resolves to whether it did. */
  failIfUnhealable(error: unknown): boolean {
    if (unhealableReason(error) === undefined) return false;
    this.fail(error);
    return true;
  }

  /** Throws the one-line error for {@link fatal}, if any (after the consumer closed up). */
  throwIfFatal(target: RedisTarget): void {
    if (this.#fatal === undefined) return;
    throw unusableRedis(target, this.#fatal) ?? this.#fatal;
  }

  /** Sets the payments in hand (0: none). */
  setHeld(payments: number): void {
    this.#held = payments;
    if (!this.#stopping) return;
    if (payments === 0) this.#armIdle();
    else this.#disarmIdle();
  }

  /** Whether the batch in hand is being applied (sent to Redis) now. */
  setSent(sent: boolean): void {
    this.#sent = sent;
  }

  /** Counts payments finished: after the stop, they are the batch in hand it finished. */
  finished(payments: number): void {
    if (this.#stopping) this.#outcome.finished += payments;
  }

  /** Runs `work` on `payments` in hand; they count as finished if it succeeds. */
  async hold<T>(payments: number, work: () => Promise<T>): Promise<T> {
    this.setHeld(this.#held + payments);
    let ok = false;
    try {
      const result = await work();
      ok = true;
      return result;
    } finally {
      if (ok) this.finished(payments);
      this.setHeld(Math.max(0, this.#held - payments));
    }
  }

  /** The consumer is done: stops the clocks. */
  end(): void {
    this.#ended = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#deadlineTimer);
  }

  #armIdle(): void {
    if (this.#idleTimer !== undefined || this.#ended) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#held === 0) this.#cut();
    }, this.#opts.idleMs ?? IDLE_STOP_MS);
  }

  #disarmIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #cut(): void {
    if (this.#ended || this.#outcome.cutOff) return;
    this.#outcome.cutOff = true;
    this.#outcome.left = this.#held;
    this.#outcome.sent = this.#held > 0 && this.#sent;
    this.#abortCut.abort();
    this.#opts.close();
  }
}

/** Adds up the outcomes of the loops of one process. */
export function sumOutcomes(all: readonly StopOutcome[]): StopOutcome {
  return {
    finished: all.reduce((s, o) => s + o.finished, 0),
    left: all.reduce((s, o) => s + o.left, 0),
    cutOff: all.some((o) => o.cutOff),
    sent: all.some((o) => o.sent),
  };
}

/**
 * The one line that says how a process stopped. `dropped`: payments left in hand are lost (the
 * plain list: BRPOP removed them from Redis).
 */
export function describeStop(
  outcome: StopOutcome,
  options: { timeoutMs: number; dropped?: boolean },
): string {
  const payments = (n: number) => `${n} payment${n === 1 ? "" : "s"}`;
  const finished = outcome.finished > 0
    ? `finished the batch in hand (${payments(outcome.finished)})`
    : "";
  if (outcome.left > 0) {
    const n = payments(outcome.left);
    const where = !options.dropped
      ? `left the ${n} in hand pending for another consumer (unless Redis still applies the ` +
        "batch sent to it)"
      : outcome.sent
      ? `gave up the ${n} in hand, popped by BRPOP: lost unless Redis still applies the batch ` +
        "sent to it (the plain list design)"
      : `dropped the ${n} in hand, popped by BRPOP: lost (the plain list design)`;
    return `shutdown: Redis did not let the batch in hand finish within ${options.timeoutMs} ms: ` +
      (finished ? `${finished}, ` : "") + where;
  }
  if (finished) return `shutdown: ${finished}`;
  return outcome.cutOff
    ? "shutdown: nothing in hand (Redis did not answer: connections closed)"
    : "shutdown: nothing in hand";
}

/**
 * A last resort once a stop was asked: exits with 1 if the process is still running `ms` from now
 * (something ignored the bounds above). Does not keep the process alive.
 */
export function exitAfter(ms: number, log: Logger): void {
  const timer = setTimeout(() => {
    log.error(`shutdown: still running ${ms} ms after the stop; exiting now`);
    Deno.exit(1);
  }, ms);
  Deno.unrefTimer(timer);
}

/** A consumer (or pool) that stops within the bounds of {@link Shutdown}. */
export interface Stoppable {
  stop(): void;
  readonly outcome: StopOutcome;
}

/**
 * SIGINT/SIGTERM stop `consumer` (after `onStop`), with {@link exitAfter} as the last resort.
 * Returns what to call once it has stopped: when a signal stopped it, it logs
 * {@link describeStop}'s line and exits 0 at once (timers of connections cut off, such as ioredis'
 * command timeouts, would keep the process alive); otherwise it removes the listeners.
 */
export function stopOnSignalsBounded(
  consumer: Stoppable,
  log: Logger,
  options: {
    timeoutMs: number;
    dropped?: boolean;
    /** More time the command needs once the consumers stopped (the ledger's drain). */
    graceMs?: number;
    onStop?: () => void;
  },
): () => void {
  let signalled = false;
  const remove = stopOnSignals(() => {
    signalled = true;
    exitAfter(options.timeoutMs + IDLE_STOP_MS + 1000 + (options.graceMs ?? 0), log);
    options.onStop?.();
    consumer.stop();
  }, log);
  return () => {
    const outcome = consumer.outcome;
    remove();
    if (!signalled) return;
    if (outcome.left > 0) log.warn(describeStop(outcome, options));
    else log.info(describeStop(outcome, options));
    Deno.exit(0);
  };
}
