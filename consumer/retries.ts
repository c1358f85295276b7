/**
 * Retries of failed processing. A processing error (a step that fails, or a batch whose apply
 * throws) is not a validation error: the entry is left pending, XAUTOCLAIM hands it out again after
 * `IDLE_THRESHOLD_MS` with a higher delivery count, and once it has been delivered more than
 * `MAX_DELIVERIES` (alias `MAX_RETRIES`) times it is dead-lettered with code 2001 and its last
 * error, and its backend gets a `rejected` confirmation.
 *
 * The last error of each waiting entry sits in the hash `pix:last_error:<stream>` (stream id →
 * message), written when processing fails and cleared when the entry is finally applied.
 * @module
 */
import { createLogger, errorMessage, type Logger } from "@fastpix/infra";
import { lastErrorKey, type Payment, validateEntry } from "@fastpix/pix";
import { type BatchHooks, type BatchInfo, deliveriesOf } from "./batch_hooks.ts";
import type { RawEntry } from "./types.ts";

/** A valid payment handed to a processing step. */
export interface StepPayment {
  /** Stream entry id. */
  id: string;
  payment: Payment;
  /** How many times this entry has been delivered, this time included. */
  deliveries: number;
}

/**
 * A processing step (settlement, a call to a payment processor, ...): resolves to the entries that
 * failed, id → reason. Throwing fails every payment it was given.
 */
export type ProcessingStep = (payments: readonly StepPayment[]) => Promise<Map<string, string>>;

/** Longest last-error message kept. */
const MAX_ERROR_LENGTH = 300;

function clip(message: string): string {
  return message.length > MAX_ERROR_LENGTH ? message.slice(0, MAX_ERROR_LENGTH) + "…" : message;
}

/** Options of {@link retryHooks}. */
export interface RetryOptions {
  /** Steps run, in order, on each batch's valid payments that are not yet past the limit. */
  steps?: readonly ProcessingStep[];
  logger?: Logger;
}

/**
 * Hooks that run processing steps, hold back the payments they fail (pending, retried later),
 * remember each failure as the entry's last error, and hand it to the dead letter in the end.
 */
export function retryHooks(options: RetryOptions = {}): BatchHooks {
  const steps = options.steps ?? [];
  const log = options.logger ?? createLogger("retries");
  return {
    async prepare(redis, entries, info) {
      const over = entries.filter(([id, f]) =>
        f !== null && deliveriesOf(info, id) > info.maxDeliveries
      );
      let lastErrors: Map<string, string> | undefined;
      if (over.length > 0) {
        const ids = over.map(([id]) => id);
        const messages = await redis.hmget(lastErrorKey(info.stream), ...ids);
        lastErrors = new Map();
        ids.forEach((id, i) => messages[i] !== null && lastErrors!.set(id, messages[i]!));
      }
      if (steps.length === 0) return { entries, lastErrors };
      const failures = await runSteps(steps, entries, info);
      if (failures.size === 0) return { entries, lastErrors };
      await redis.hset(lastErrorKey(info.stream), ...[...failures].flat());
      const [firstId, firstError] = failures.entries().next().value!;
      log.warn(
        `processing failed for ${failures.size} entries (${firstId}: ${firstError}); ` +
          `they stay pending and are retried`,
      );
      return { entries: entries.filter(([id]) => !failures.has(id)), lastErrors };
    },
    async applied(redis, entries, info) {
      // Only redelivered entries (re-read or reclaimed: they have a delivery count) can have a last
      // error to clear. Not only those counted more than once: a batch-level refusal gives its
      // entries their count back (batch_refusals.ts), so a retried first delivery counts 1 again.
      const ids = entries.map(([id]) => id).filter((id) => info.deliveries?.has(id));
      if (ids.length > 0) await redis.hdel(lastErrorKey(info.stream), ...ids);
    },
    async failed(redis, entries, _info, error) {
      const message = clip(errorMessage(error));
      const live = entries.filter(([, f]) => f !== null);
      if (live.length === 0) return;
      await redis.hset(lastErrorKey(_info.stream), ...live.flatMap(([id]) => [id, message]));
    },
  };
}

/** Runs every step on the valid payments not past the limit; resolves to failures by id. */
async function runSteps(
  steps: readonly ProcessingStep[],
  entries: readonly RawEntry[],
  info: BatchInfo,
): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  let todo: StepPayment[] = [];
  const nowMs = Date.now();
  for (const [id, flat] of entries) {
    const deliveries = deliveriesOf(info, id);
    if (flat === null || deliveries > info.maxDeliveries) continue;
    const result = validateEntry(flat, { limits: info.limits, nowMs });
    if (result.ok) todo.push({ id, payment: result.payment, deliveries });
  }
  for (const step of steps) {
    if (todo.length === 0) break;
    let failed: Map<string, string>;
    try {
      failed = await step(todo);
    } catch (error) {
      const message = errorMessage(error);
      failed = new Map(todo.map((p) => [p.id, message]));
    }
    for (const [id, reason] of failed) failures.set(id, clip(reason));
    todo = todo.filter((p) => !failed.has(p.id));
  }
  return failures;
}
