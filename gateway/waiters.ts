/**
 * `wait=true`: one shared reader of the confirmation streams per gateway process, and a map from
 * each request's payment to the request waiting for it. No connection per request.
 *
 * A request waits for the confirmation of its own payment: the one on its backend's confirmation
 * stream whose `entry_id` is the id of the stream entry its enqueue added (and whose transaction
 * id is its own). Another request under the same transaction id, on this gateway or another, is
 * another entry: its outcome is never taken for this one's. A confirmation without `entry_id`
 * (the list designs, which have no entry ids, or a consumer older than the field) goes, as before,
 * to every request waiting for its transaction id on that backend's stream.
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

/** How long a confirmation that came before its request learnt its entry id is kept, ms. */
const EARLY_KEEP_MS = 10_000;

/** One request waiting. */
interface Waiter {
  /** Its backend's confirmation stream. */
  key: string;
  transactionId: string;
  /** The id of its stream entry, once the enqueue said (never, for a design without ids). */
  entryId?: string;
  /** Answered already (by a confirmation without entry_id, during its enqueue). */
  settled?: boolean;
  resolve: (c: Confirmation | undefined) => void;
}

/** Requests waiting for their payment's confirmation. */
export class ConfirmationWaiters {
  #watcher: ConfirmationWatcher;
  #started?: Promise<void>;
  /** Waiters by stream, transaction and entry id ({@link entryKey}). */
  #byEntry = new Map<string, Waiter>();
  /** Waiters by stream and transaction id ({@link txKey}): for confirmations without entry_id. */
  #byTx = new Map<string, Waiter[]>();
  /** Enqueues in flight per stream: a confirmation may come before its request learns its id. */
  #sending = new Map<string, number>();
  /** Confirmations with entry_id nobody waited on yet, that came while an enqueue was in flight. */
  #early = new Map<string, { confirmation: Confirmation; at: number }>();
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
   * Watches the backend's confirmation stream, runs `send` (the enqueue, resolving to the id of the
   * payment's stream entry, or to nothing for a design without ids), then resolves to the
   * confirmation of that entry (of `transactionId`, without an id), or `undefined` after
   * `timeoutMs`. Throws {@link WaitersFull} (before `send`) when a bound is reached.
   */
  async waitFor(
    transactionId: string,
    backendId: string,
    options: { timeoutMs: number; send: () => Promise<string | undefined | void> },
  ): Promise<Confirmation | undefined> {
    const key = responseStreamKey(this.responsePrefix, backendId);
    this.#reserve(key);
    try {
      this.#started ??= this.#watcher.start((c, key) => this.#deliver(c, key));
      await this.#started;
      await this.#watcher.watch(key);
      let resolve!: (c: Confirmation | undefined) => void;
      const answered = new Promise<Confirmation | undefined>((r) => resolve = r);
      const waiter: Waiter = { key, transactionId, resolve };
      const byTx = txKey(key, transactionId);
      this.#byTx.set(byTx, [...(this.#byTx.get(byTx) ?? []), waiter]);
      this.#sending.set(key, (this.#sending.get(key) ?? 0) + 1);
      let entryId: string | undefined | void;
      try {
        entryId = await options.send();
      } catch (error) {
        this.#forget(waiter);
        throw error;
      } finally {
        const left = this.#sending.get(key)! - 1;
        if (left === 0) this.#sending.delete(key);
        else this.#sending.set(key, left);
      }
      if (typeof entryId === "string" && !waiter.settled) this.#expect(waiter, entryId);
      const timer = setTimeout(() => {
        this.#forget(waiter);
        resolve(undefined);
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

  /** `waiter`'s entry is `entryId`: answered at once when its confirmation came already. */
  #expect(waiter: Waiter, entryId: string): void {
    waiter.entryId = entryId;
    const k = entryKey(waiter.key, waiter.transactionId, entryId);
    const early = this.#early.get(k);
    if (early !== undefined) {
      this.#early.delete(k);
      this.#settle(waiter, early.confirmation);
      return;
    }
    this.#byEntry.set(k, waiter);
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

  /** No longer waits: off both maps. */
  #forget(waiter: Waiter): void {
    if (waiter.entryId !== undefined) {
      const k = entryKey(waiter.key, waiter.transactionId, waiter.entryId);
      if (this.#byEntry.get(k) === waiter) this.#byEntry.delete(k);
    }
    const byTx = txKey(waiter.key, waiter.transactionId);
    const list = this.#byTx.get(byTx);
    if (list === undefined) return;
    const rest = list.filter((w) => w !== waiter);
    if (rest.length === 0) this.#byTx.delete(byTx);
    else this.#byTx.set(byTx, rest);
  }

  #settle(waiter: Waiter, c: Confirmation): void {
    waiter.settled = true;
    this.#forget(waiter);
    waiter.resolve(c);
  }

  #deliver(c: Confirmation, key: string): void {
    if (c.entry_id === undefined) {
      // No entry id (list designs, older consumers): every request waiting for the transaction on
      // this stream, as before entry ids.
      for (const waiter of this.#byTx.get(txKey(key, c.transaction_id)) ?? []) {
        this.#settle(waiter, c);
      }
      return;
    }
    const k = entryKey(key, c.transaction_id, c.entry_id);
    const waiter = this.#byEntry.get(k);
    if (waiter !== undefined) return this.#settle(waiter, c);
    if (!this.#sending.has(key)) return; // another client's payment
    // Perhaps the payment of a request whose enqueue reply is not read yet: kept a while.
    const now = Date.now();
    for (const [old, { at }] of this.#early) {
      // The rest came later; at most maxWaiters kept.
      if (now - at < EARLY_KEEP_MS && this.#early.size < this.limits.maxWaiters) break;
      this.#early.delete(old);
    }
    this.#early.set(k, { confirmation: c, at: now });
  }

  /** Stops reading confirmations. */
  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#watcher.stop();
  }
}

const txKey = (stream: string, transactionId: string) => `${stream}\n${transactionId}`;

const entryKey = (stream: string, transactionId: string, entryId: string) =>
  `${stream}\n${transactionId}\n${entryId}`;
