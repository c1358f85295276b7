/**
 * Batch-level failures: what refuses a whole batch (a counter, the dead-letter stream or the payment
 * stream of the wrong type or corrupt, Redis out of memory, a Redis error) is nobody's fault among
 * its entries. The batch is retried as it is, its refusal is logged once per cause (not once per
 * retry), and it does not count towards `MAX_DELIVERIES`: the stream consumer gives each entry back
 * the delivery count it had before the refused attempt ({@link undoDeliveries}), so a good payment
 * never ends at 2001 because of someone else's key. Only an entry's own failures (a processing
 * step refusing it, a consumer dying while holding it) still raise its count.
 *
 * What fails one entry alone (its confirmation stream or its mark of the wrong type) is no
 * refusal: the batch scripts dead-letter that entry (2101, 2102) and apply the rest.
 * @module
 */
import { backoffMs, errorMessage, type Logger, type RedisClient, sleep } from "@fastpix/infra";

/**
 * Whether `error` is a script's own run-time failure (a Lua error, or a command failing inside it)
 * rather than a refusal it returned on purpose: such a script may have stopped half way, so it is
 * treated as the entries' failure (their delivery counts stand and lead to 2001 in the end).
 */
export function isScriptBug(error: unknown): boolean {
  return error instanceof Error && /@user_script|user_script:\d/.test(error.message);
}

/**
 * Whether `error` is Redis refusing a batch as a whole: an error reply (a batch script's
 * "...; nothing was applied", OOM, READONLY, LOADING, BUSY, ...) that is neither a script's own
 * run-time failure ({@link isScriptBug}) nor NOGROUP (the consumer loop recreates the group).
 * Lost connections and timeouts are not refusals either: the consumer loops reconnect.
 */
export function isBatchRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError" &&
    !error.message.startsWith("NOGROUP") && !isScriptBug(error);
}

/** A refusal's cause: its message without the numbers that change from one batch to the next. */
function causeOf(error: unknown): string {
  return errorMessage(error).replace(/\d+/g, "#");
}

/** Logs refused batches once per cause, and once when batches apply again. */
export class RefusalLog {
  #cause: string | undefined;
  #refusals = 0;

  constructor(readonly log: Logger) {}

  /** Refusals in a row so far. */
  get refusals(): number {
    return this.#refusals;
  }

  /** Notes one more refused batch; logs it only when its cause is not the one last logged. */
  refused(error: unknown): number {
    this.#refusals++;
    const cause = causeOf(error);
    if (cause !== this.#cause) {
      this.#cause = cause;
      this.log.warn(
        `batch refused: ${errorMessage(error)}; it stays in hand and is retried as it is ` +
          `(logged once until the cause changes; it does not count towards MAX_DELIVERIES)`,
      );
    }
    return this.#refusals;
  }

  #undoFailed = false;

  /**
   * Notes that delivery counts could not be given back ({@link undoDeliveries}); the first time
   * (Redis down aside: then nothing is delivered either), says so: without XCLAIM (Redis ACL),
   * refused batches count towards MAX_DELIVERIES.
   */
  cannotUndo(error: unknown): void {
    if (this.#undoFailed || !(error instanceof Error && error.name === "ReplyError")) return;
    this.#undoFailed = true;
    this.log.warn(
      `cannot give refused entries their delivery counts back: ${errorMessage(error)}; ` +
        `refused batches count towards MAX_DELIVERIES`,
    );
  }

  /** Notes an applied batch; after refusals, says so once. */
  applied(): void {
    if (this.#cause === undefined) return;
    this.log.info(`batches apply again, after ${this.#refusals} refused in a row`);
    this.#cause = undefined;
    this.#refusals = 0;
  }
}

/** Waits before retrying the `n`th refusal in a row (up to 2 s), or until `stopped()`. */
export async function pauseAfterRefusal(n: number, stopped: () => boolean): Promise<void> {
  const until = Date.now() + backoffMs(n, { baseMs: 50, maxMs: 2000 });
  while (!stopped() && Date.now() < until) await sleep(Math.min(50, until - Date.now()));
}

/**
 * Gives pending entries back the delivery count they had before the attempt that was refused
 * (`deliveries`: their counts with that attempt; absent: first delivery), with
 * `XCLAIM ... RETRYCOUNT n JUSTID` (JUSTID does not count a delivery itself). Entries no longer
 * pending are left alone. The idle time restarts, so they are reclaimed after the idle threshold.
 */
export async function undoDeliveries(
  redis: RedisClient,
  where: { stream: string; group: string; consumerName: string },
  ids: readonly string[],
  deliveries?: ReadonlyMap<string, number>,
): Promise<void> {
  const byCount = new Map<number, string[]>();
  for (const id of ids) {
    const before = Math.max(0, (deliveries?.get(id) ?? 1) - 1);
    const list = byCount.get(before) ?? [];
    if (list.push(id) === 1) byCount.set(before, list);
  }
  for (const [count, list] of byCount) {
    await redis.xclaim(
      where.stream,
      where.group,
      where.consumerName,
      0,
      ...list,
      "RETRYCOUNT",
      count,
      "JUSTID",
    );
  }
}
