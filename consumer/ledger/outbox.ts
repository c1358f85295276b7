/**
 * The ledger's outbox: each batch is applied (the `process_batch` script) and its ledger rows are
 * appended to `pix:ledger:outbox:<stream>` in the same MULTI/EXEC, so a consumer killed at any
 * point leaves either both or neither. The ledger writer moves the rows to PostgreSQL and deletes
 * them; while PostgreSQL is away they wait there, up to a bound after which the consumer pauses.
 * @module
 */
import { createLogger, type Logger, type RedisClient as Redis, sleep } from "@fastpix/infra";
import {
  formatCents,
  ledgerBacklogKey,
  ledgerOutboxKey,
  parseAmountCents,
  TRANSACTION_ID_PATTERN,
  uuidv7,
} from "@fastpix/pix";
import type { BatchHooks, BatchInfo } from "../batch_hooks.ts";
import { type Batch, batchEntries, type BatchReply, processBatchScript } from "../batch_args.ts";
import type { OutboxBatch, OutboxRow } from "./types.ts";
import { encodeBatch } from "./write_rows.ts";
import { outboxAddEval, parseOutboxAdd } from "./outbox_add.ts";

export type { OutboxBatch, OutboxRow };

/** The outbox's consumer group (one per payment stream's outbox). */
export const LEDGER_GROUP = "pix_ledger";

/**
 * Reads the ledger rows out of a `process_batch` call: accepted payments become `done` rows,
 * rejected ones `error` rows, deleted entries nothing.
 */
export function batchRows(batch: Batch, info: Pick<BatchInfo, "deliveries">): OutboxRow[] {
  const rows: OutboxRow[] = [];
  for (const e of batchEntries(batch.args)) {
    if (e.kind === "ok") {
      const deliveries = info.deliveries?.get(e.id) ?? 1;
      rows.push([e.id, e.tx, e.backend, e.amount, "done", null, null, deliveries]);
    } else if (e.kind === "reject") {
      let amount: string | null = null;
      try {
        const cents = parseAmountCents(String(JSON.parse(e.fieldsJson).amount ?? ""));
        if (cents !== undefined) amount = formatCents(cents);
      } catch { /* no usable amount */ }
      rows.push([
        e.id,
        TRANSACTION_ID_PATTERN.test(e.tx) ? e.tx : null,
        e.backend === "" ? null : e.backend,
        amount,
        "error",
        e.errorCode,
        e.reason,
        e.deliveries,
      ]);
    }
  }
  return rows;
}

/** Options of {@link outboxHooks}. */
export interface OutboxOptions {
  /** Most ledger rows that may wait for PostgreSQL before the consumer pauses. */
  maxBacklog: number;
  logger?: Logger;
  /** Polling interval while paused, ms. */
  pollMs?: number;
}

/** The `apply` hook that writes the batch's ledger rows in the same MULTI as the batch. */
export function outboxHooks(options: OutboxOptions): BatchHooks & { release(): void } {
  const log = options.logger ?? createLogger("ledger");
  let released = false;
  return {
    /** Stops any wait for the backlog to drain (shutdown). */
    release() {
      released = true;
    },
    async apply(redis: Redis, batch: Batch, info: BatchInfo): Promise<BatchReply> {
      const rows = batchRows(batch, info);
      if (rows.length === 0) {
        return await processBatchScript.run(redis, batch.keys, batch.args) as BatchReply;
      }
      const now = Date.now();
      const entry: OutboxBatch = {
        id: uuidv7(now),
        stream: info.stream,
        consumer: info.consumerName,
        appliedMs: now,
        processingMs: now - info.startedMs,
        rows,
      };
      const outbox = ledgerOutboxKey(info.stream);
      const backlogKey = ledgerBacklogKey(info.stream);
      // Batch and rows in one MULTI: both or neither. EVAL, not EVALSHA: a NOSCRIPT error would show
      // only at EXEC, after the rows were added, leaving rows of a batch that was never applied.
      // The rows go first: only those of entries still pending (that the batch applies) are kept.
      const encoded = encodeBatch(entry);
      const target = { outbox, backlog: backlogKey, stream: info.stream, group: info.group };
      const replies = await redis.multi()
        .eval(...outboxAddEval(target, encoded, rows))
        .eval(processBatchScript.source, batch.keys.length, ...batch.keys, ...batch.args)
        .exec();
      if (replies === null) throw new Error("The batch's transaction was aborted");
      const [[addError, added], [scriptError, counts]] = replies;
      const { id: outboxId, rows: kept, backlog } = parseOutboxAdd(addError ? undefined : added);
      if (scriptError) {
        // The script failed at run time (out of memory, a key of the wrong type): take the rows
        // back, best effort, and let the batch be retried.
        if (outboxId !== undefined) {
          await redis.multi().xdel(outbox, outboxId).decrby(backlogKey, kept).exec();
        }
        throw scriptError;
      }
      if (addError) throw addError;
      if (backlog > options.maxBacklog && !released) {
        await waitForBacklog(redis, backlogKey, backlog);
      }
      return counts as BatchReply;
    },
  };

  async function waitForBacklog(redis: Redis, key: string, backlog: number): Promise<void> {
    log.warn(
      `ledger backlog is ${backlog} rows (limit ${options.maxBacklog}): pausing this consumer until PostgreSQL catches up`,
    );
    const started = Date.now();
    while (!released && backlog > options.maxBacklog) {
      await sleep(options.pollMs ?? 100);
      backlog = Number(await redis.get(key));
    }
    log.info(`ledger backlog down to ${backlog} rows: resuming after ${Date.now() - started} ms`);
  }
}
