/**
 * Waiting, backing off and bounding concurrency: the small async helpers every loop shares.
 * @module
 */

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Options of {@link backoffMs}. */
export interface BackoffOptions {
  /** Delay after the first failure (default 50 ms). */
  baseMs?: number;
  /** Longest delay (default 2 s). */
  maxMs?: number;
  /** Spread the delay over its upper half at random, so many clients do not retry in step. */
  jitter?: boolean;
}

/** Delay before retry number `attempt`: `baseMs` doubling up to `maxMs`, optionally jittered. */
export function backoffMs(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 50, maxMs = 2000 } = options;
  const delay = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return options.jitter ? delay / 2 + Math.random() * delay / 2 : delay;
}

/** A counting semaphore: at most `size` holders at once, the rest wait in order. */
export class Limiter {
  #free: number;
  #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  /** Slots not held now. */
  get free(): number {
    return this.#free;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves once the caller holds a slot; {@link release} it when done. */
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Gives a slot back (to the longest waiter, if any). */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}
