/**
 * Extension points around each batch the stream consumer applies, so that processing steps,
 * retries with their last error, and the PostgreSQL ledger live in their own modules and cost
 * nothing when unused.
 *
 * Order for one batch: `prepare` (run processing steps; entries it holds back stay pending, to be
 * reclaimed and retried), validation and `apply` (default: the `process_batch` script), then
 * `applied`. If `prepare` or `apply` throws, `failed` is told and every entry stays pending.
 * @module
 */
import type { RedisClient as Redis } from "@fastpix/infra";
import type { ValidationLimits } from "@fastpix/pix";
import type { Batch, BatchReply } from "./batch_args.ts";
import type { RawEntry } from "./types.ts";

/** What hooks know about the batch in hand. */
export interface BatchInfo {
  /** The payment stream the batch came from (the partition's own stream when partitioned). */
  stream: string;
  /** The consumer group. */
  group: string;
  consumerName: string;
  /** An entry delivered more times than this is dead-lettered. */
  maxDeliveries: number;
  limits: ValidationLimits;
  /** Delivery counts of re-read or reclaimed entries; absent: first delivery of each entry. */
  deliveries?: Map<string, number>;
  /** When the consumer started on this batch (epoch ms). */
  startedMs: number;
}

/** The outcome of {@link BatchHooks.prepare}. */
export interface PreparedBatch {
  /** Entries to validate and apply now; the others stay pending, to be reclaimed and retried. */
  entries: RawEntry[];
  /** The last processing error of entries, added to the reason when they are dead-lettered. */
  lastErrors?: Map<string, string>;
}

/** Hooks around one batch; every one is optional. */
export interface BatchHooks {
  /** Runs before validation; may hold entries back (they stay pending). */
  prepare?(redis: Redis, entries: RawEntry[], info: BatchInfo): Promise<PreparedBatch>;
  /** Applies the batch in Redis instead of the plain `applyBatch` (the ledger's outbox does). */
  apply?(redis: Redis, batch: Batch, info: BatchInfo): Promise<BatchReply>;
  /** Runs after the batch was applied (its failure is logged, not retried). */
  applied?(redis: Redis, entries: RawEntry[], info: BatchInfo): Promise<void>;
  /** Runs when `prepare` or `apply` threw: every entry of the batch stays pending. */
  failed?(redis: Redis, entries: RawEntry[], info: BatchInfo, error: unknown): Promise<void>;
}

/** Delivery count of entry `id` in the batch (1 when not re-read or reclaimed). */
export function deliveriesOf(info: BatchInfo, id: string): number {
  return info.deliveries?.get(id) ?? 1;
}

/**
 * Chains hooks: `prepare`s run in order (each sees what the previous kept), `applied` and `failed`
 * all run, and at most one of them may define `apply`.
 */
export function combineHooks(...all: (BatchHooks | undefined)[]): BatchHooks {
  const hooks = all.filter((h): h is BatchHooks => h !== undefined);
  const appliers = hooks.filter((h) => h.apply !== undefined);
  if (appliers.length > 1) throw new Error("Cannot combine hooks: more than one defines apply");
  return {
    async prepare(redis, entries, info) {
      let kept: PreparedBatch = { entries };
      for (const h of hooks) {
        if (!h.prepare || kept.entries.length === 0) continue;
        const next = await h.prepare(redis, kept.entries, info);
        const lastErrors = new Map([...kept.lastErrors ?? [], ...next.lastErrors ?? []]);
        kept = { entries: next.entries, lastErrors: lastErrors.size > 0 ? lastErrors : undefined };
      }
      return kept;
    },
    apply: appliers[0]?.apply?.bind(appliers[0]),
    async applied(redis, entries, info) {
      for (const h of hooks) await h.applied?.(redis, entries, info);
    },
    async failed(redis, entries, info, error) {
      for (const h of hooks) await h.failed?.(redis, entries, info, error).catch(() => {});
    },
  };
}
