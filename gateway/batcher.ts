/**
 * Micro-batching: concurrent requests share one enqueue call. A payment waits at most `maxDelayMs`
 * (or until `maxBatch` are waiting), then the whole batch goes to Redis in one round trip and every
 * request learns the outcome of its batch.
 * @module
 */
import type { PaymentMessage } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import type { Enqueuer } from "@fastpix/queue";

/** Settings of {@link EnqueueBatcher}. */
export interface BatcherOptions {
  /** Most payments per enqueue call (1: no batching). */
  maxBatch: number;
  /** Longest a payment waits for others before its batch is sent, in ms. */
  maxDelayMs: number;
  /** Called after every enqueue call with its size and error, if any. */
  onBatch?: (size: number, error?: unknown) => void;
}

interface Waiter {
  resolve: (entryId: string | undefined) => void;
  reject: (error: unknown) => void;
}

/** Collects payments from concurrent requests into batches for one {@link Enqueuer}. */
export class EnqueueBatcher {
  #items: PaymentMessage[] = [];
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly redis: Redis,
    private readonly enqueuer: Enqueuer,
    private readonly options: BatcherOptions,
  ) {}

  /**
   * Enqueues `payment` with whatever else arrives soon; resolves once Redis has it, to the id of
   * its stream entry (`undefined` for a design without entry ids).
   */
  add(payment: PaymentMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.#items.push(payment);
      this.#waiters.push({ resolve, reject });
      if (this.#items.length >= this.options.maxBatch) this.#flush();
      else if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.#flush(), this.options.maxDelayMs);
      }
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#items, waiters = this.#waiters;
    if (items.length === 0) return;
    this.#items = [];
    this.#waiters = [];
    const sending: Promise<void> = this.enqueuer.enqueue(this.redis, items).then(
      (ids) => {
        this.options.onBatch?.(items.length);
        waiters.forEach((w, i) => w.resolve(ids ? ids[i] : undefined));
      },
      (error) => {
        this.options.onBatch?.(items.length, error);
        for (const w of waiters) w.reject(error);
      },
    ).finally(() => this.#inFlight.delete(sending));
    this.#inFlight.add(sending);
  }

  /** Sends what is waiting now and waits for every batch in flight. */
  async drain(): Promise<void> {
    this.#flush();
    await Promise.all(this.#inFlight);
  }
}
