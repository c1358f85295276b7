/**
 * `wait=true`: one shared reader of the confirmation streams per gateway process, and a map from
 * transaction id to the requests waiting for it. No connection per request.
 * @module
 */
import { type Confirmation, responseStreamKey } from "@fastpix/pix";
import type { Logger } from "@fastpix/infra";
import { ConfirmationWatcher } from "@fastpix/queue";

/** Requests waiting for their payment's confirmation. */
export class ConfirmationWaiters {
  #watcher: ConfirmationWatcher;
  #started?: Promise<void>;
  #waiting = new Map<string, ((c: Confirmation) => void)[]>();

  constructor(redisUrl: string, private readonly responsePrefix: string, logger?: Logger) {
    this.#watcher = new ConfirmationWatcher(redisUrl, [], logger);
  }

  /** Requests waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Watches the backend's confirmation stream, runs `send` (the enqueue), then resolves to the
   * confirmation of `transactionId`, or `undefined` after `timeoutMs`.
   */
  async waitFor(
    transactionId: string,
    backendId: string,
    options: { timeoutMs: number; send: () => Promise<void> },
  ): Promise<Confirmation | undefined> {
    this.#started ??= this.#watcher.start((c) => this.#deliver(c));
    await this.#started;
    await this.#watcher.watch(responseStreamKey(this.responsePrefix, backendId));
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
    await this.#watcher.stop();
  }
}
