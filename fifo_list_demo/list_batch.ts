/**
 * One batch of list payloads: validation (pure) and the atomic `apply_list_batch` call that writes
 * its confirmations, counters, idempotency marks and dead letters.
 * @module
 */
import {
  BACKEND_ID_PATTERN,
  dlqKey,
  DONE_MARK_PREFIX,
  formatCents,
  paymentFingerprint,
  PROCESSED_COUNT_KEY,
  responseStreamKey,
  TOTAL_AMOUNT_CENTS_KEY,
  TOTAL_AMOUNT_KEY,
  type ValidationLimits,
} from "@fastpix/pix";
import { LuaScript, type Redis } from "@fastpix/infra";
import { type BatchReply, ResponseStreams, settingsArgs } from "@fastpix/consumer";
import { validateListPayload } from "./payload.ts";

/** The script that applies a batch (KEYS and ARGV in `lua/apply_list_batch.lua`). */
export const applyListBatchScript = LuaScript.fromFile(
  "apply_list_batch",
  "./lua/apply_list_batch.lua",
  import.meta.url,
);

/** What {@link buildListBatch} needs to know. */
export interface ListBatchContext {
  /** `plain`: the payloads were popped; `reliable`: they sit in `processingKey`. */
  mode: "plain" | "reliable";
  /** The list the payloads came from. */
  source: string;
  /** The consumer's processing list (reliable mode). */
  processingKey?: string;
  consumerName: string;
  responsePrefix: string;
  responseMaxlen: number;
  markTtlSeconds: number;
  limits: ValidationLimits;
  nowMs?: number;
}

/** KEYS and ARGV of one `apply_list_batch` call. */
export interface ListBatch {
  keys: string[];
  args: (string | number)[];
}

/** Outcome of one applied batch. */
export interface ListBatchResult {
  confirmed: number;
  duplicates: number;
  rejected: number;
  /** Payloads the reaper had already returned to the queue (reliable mode). */
  skipped: number;
  /** `total_amount_cents` after the batch, exact ("0" when nothing was confirmed). */
  totalCents: string;
  /** How this batch converted the Python original's float `total_amount` ("" when it did not). */
  migration: string;
}

/**
 * Validates the payloads (oldest first) and lays out the `apply_list_batch` call (pure: no I/O).
 * Bad JSON and bad fields become dead letters with a rejected confirmation when the backend is
 * known and safe; a good payload without `backend_id` is counted with no confirmation (position 0).
 */
export function buildListBatch(payloads: readonly string[], ctx: ListBatchContext): ListBatch {
  const responses = new ResponseStreams((backendId) =>
    responseStreamKey(ctx.responsePrefix, backendId)
  );
  const nowMs = ctx.nowMs ?? Date.now();
  const args: (string | number)[] = [
    ctx.mode,
    ...settingsArgs({
      ...ctx,
      markPrefix: DONE_MARK_PREFIX,
      timestamp: new Date(nowMs).toISOString(),
    }),
    ctx.source,
  ];
  for (const raw of payloads) {
    const result = validateListPayload(raw, { limits: ctx.limits, nowMs });
    if (result.ok) {
      const p = result.payment;
      args.push(
        "ok",
        raw,
        p.transactionId,
        p.backendId,
        p.backendId === "" ? 0 : responses.positionOf(p.backendId), // "": no backend_id, no confirmation
        p.amountCents,
        formatCents(p.amountCents),
        paymentFingerprint(p),
      );
    } else {
      const fields = result.fields ?? {};
      const backend = BACKEND_ID_PATTERN.test(fields.backend_id ?? "") ? fields.backend_id : "";
      args.push(
        "reject",
        raw,
        fields.transaction_id ?? "",
        backend,
        backend === "" ? 0 : responses.positionOf(backend),
        result.rejection.code,
        result.rejection.message,
        "",
      );
    }
  }
  const keys = [
    dlqKey(ctx.source),
    PROCESSED_COUNT_KEY,
    TOTAL_AMOUNT_KEY,
    TOTAL_AMOUNT_CENTS_KEY,
    ctx.mode === "reliable" ? ctx.processingKey! : ctx.source,
    ...responses.keys,
  ];
  return { keys, args };
}

/** Applies a batch atomically. */
export async function applyListBatch(redis: Redis, batch: ListBatch): Promise<ListBatchResult> {
  const [confirmed, duplicates, rejected, skipped, totalCents, migration] =
    await applyListBatchScript.run(redis, batch.keys, batch.args) as BatchReply;
  return { confirmed, duplicates, rejected, skipped, totalCents, migration };
}
