/**
 * `wait=true`: one shared reader of the confirmation streams per gateway process, and a map from
 * transaction id to the requests waiting for it. No connection per request.
 *
 * Bounded: at most `maxWaiters` requests wait at once, and at most `maxStreams` confirmation
 * streams (one per backend) are watched at once. A stream no request has waited on for `idleMs` is
 * dropped, so the XREADs never span the streams of backends long gone; when every watched stream
 * is in use, a request for yet another backend is refused ({@link WaitersFull}) rather than
 * growing the watch without end.
 * @module
 */
import { type Confirmation, responseStreamKey } from "@fastpix/pix";
import type { Logger } from "@fastpix/infra";
import { ConfirmationWatcher } from "@fastpix/queue";

/** Bounds of {@link ConfirmationWaiters}. */
export interface WaiterLimits {
  /** Most requests waiting at once. */
  maxWaiters: number;
  /** Most confirmation streams (backends) watched at once. */
  maxStreams: number;
  /** A watched stream with no request waiting on it for this long is dropped, ms. */
  idleMs: number;
}

/** Defaults of {@link WaiterLimits}. */
export const WAITER_DEFAULTS: WaiterLimits = { maxWaiters: 10_000, maxStreams: 4096, idleMs: 5000 };

/** A request refused because a bound of {@link ConfirmationWaiters} is reached. */
export class WaitersFull extends Error {
  constructor(readonly limit: "waiters" | "streams", message: string) {
    super(message);
    this.name = "WaitersFull";
  }
}

/** Requests waiting for their payment's confirmation. */
export class ConfirmationWaiters {
  #watcher: ConfirmationWatcher;
  #started?: Promise<void>;
  #waiting = new Map<string, ((c: Confirmation) => void)[]>();
  #count = 0;
  /** Requests waiting on each watched stream (0: idle, and listed in #idle). */
  #streams = new Map<string, number>();
  /** Watched streams nobody waits on, with the time they became idle, oldest first. */
  #idle = new Map<string, number>();
  #sweeper?: ReturnType<typeof setInterval>;
  readonly limits: WaiterLimits;

  constructor(
    redisUrl: string,
    private readonly responsePrefix: string,
    logger?: Logger,
    limits: Partial<WaiterLimits> = {},
  ) {
    this.limits = { ...WAITER_DEFAULTS, ...limits };
    this.#watcher = new ConfirmationWatcher(redisUrl, [], logger);
  }

  /** Requests waiting now. */
  get size(): number {
    return this.#count;
  }

  /** Confirmation streams watched now. */
  get watchedStreams(): number {
    return this.#watcher.size;
  }

  /** Whether one more request would be refused for {@link WaiterLimits.maxWaiters}. */
  get full(): boolean {
    return this.#count >= this.limits.maxWaiters;
  }

  /**
   * Watches the backend's confirmation stream, runs `send` (the enqueue), then resolves to the
   * confirmation of `transactionId`, or `undefined` after `timeoutMs`. Throws {@link WaitersFull}
   * (before `send`) when a bound is reached.
   */
  async waitFor(
    transactionId: string,
    backendId: string,
    options: { timeoutMs: number; send: () => Promise<void> },
  ): Promise<Confirmation | undefined> {
    const key = responseStreamKey(this.responsePrefix, backendId);
    this.#reserve(key);
    try {
      this.#started ??= this.#watcher.start((c) => this.#deliver(c));
      await this.#started;
      await this.#watcher.watch(key);
      let resolveWaiter!: (c: Confirmation | undefined) => void;
      const answered = new Promise<Confirmation | undefined>((r) => resolveWaiter = r);
      const list = this.#waiting.get(transactionId) ?? [];
      list.push(resolveWaiter);
      this.#waiting.set(transactionId, list);
      try {
        await options.send();
      } catch (error) {
        this.#forget(transactionId, resolveWaiter);
        throw error;
      }
      const timer = setTimeout(() => {
        this.#forget(transactionId, resolveWaiter);
        resolveWaiter(undefined);
      }, options.timeoutMs);
      try {
        return await answered;
      } finally {
        clearTimeout(timer);
      }
    } finally {
      this.#release(key);
    }
  }

  /** Counts a request waiting on `key`, or throws {@link WaitersFull}. */
  #reserve(key: string): void {
    if (this.full) {
      throw new WaitersFull(
        "waiters",
        `${this.limits.maxWaiters} requests are waiting for confirmations already (MAX_WAITERS)`,
      );
    }
    const now = Date.now();
    this.#sweep(now);
    const waiting = this.#streams.get(key);
    if (waiting === undefined && this.#streams.size >= this.limits.maxStreams) {
      // Make room by dropping the stream idle the longest; none idle: refuse.
      const oldest = this.#idle.keys().next();
      if (oldest.done) {
        throw new WaitersFull(
          "streams",
          `requests wait on the confirmations of ${this.limits.maxStreams} backends already ` +
            "(MAX_WATCHED_BACKENDS)",
        );
      }
      this.#drop(oldest.value);
    }
    this.#streams.set(key, (waiting ?? 0) + 1);
    this.#idle.delete(key);
    this.#count++;
    this.#sweeper ??= this.#startSweeper();
  }

  #release(key: string): void {
    this.#count--;
    const left = (this.#streams.get(key) ?? 1) - 1;
    this.#streams.set(key, left);
    if (left === 0) this.#idle.set(key, Date.now());
  }

  /** Drops the streams idle for `idleMs` or more. */
  #sweep(now: number): void {
    for (const [key, since] of this.#idle) {
      if (now - since < this.limits.idleMs) break; // the rest became idle later
      this.#drop(key);
    }
  }

  #drop(key: string): void {
    this.#idle.delete(key);
    this.#streams.delete(key);
    this.#watcher.unwatch(key);
  }

  #startSweeper(): ReturnType<typeof setInterval> {
    const timer = setInterval(
      () => this.#sweep(Date.now()),
      Math.max(50, Math.min(1000, this.limits.idleMs / 2)),
    );
    Deno.unrefTimer(timer);
    return timer;
  }

  #forget(transactionId: string, waiter: (c: Confirmation | undefined) => void): void {
    const list = this.#waiting.get(transactionId);
    if (list === undefined) return;
    const rest = list.filter((w) => w !== waiter);
    if (rest.length === 0) this.#waiting.delete(transactionId);
    else this.#waiting.set(transactionId, rest);
  }

  #deliver(c: Confirmation): void {
    const list = this.#waiting.get(c.transaction_id);
    if (list === undefined) return; // another client's payment
    this.#waiting.delete(c.transaction_id);
    for (const resolve of list) resolve(c);
  }

  /** Stops reading confirmations. */
  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#watcher.stop();
  }
}
