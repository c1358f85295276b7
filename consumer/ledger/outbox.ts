/**
 * The ledger's outbox: each batch is applied (the `process_batch` script) and its ledger rows are
 * appended to `pix:ledger:outbox:<stream>` in the same MULTI/EXEC, so a consumer killed at any
 * point leaves either both or neither. The ledger writer moves the rows to PostgreSQL and deletes
 * them; while PostgreSQL is away they wait there, up to a bound after which the consumer pauses.
 * @module
 */
import {
  createLogger,
  type Logger,
  LuaScript,
  type RedisClient as Redis,
  sleep,
} from "@fastpix/infra";
import {
  formatCents,
  ledgerBacklogKey,
  ledgerOutboxKey,
  parseAmountCents,
  TRANSACTION_ID_PATTERN,
  uuidv7,
} from "@fastpix/pix";
import type { BatchHooks, BatchInfo } from "../batch_hooks.ts";
import type { Batch } from "../stream_consumer.ts";
import { encodeBatch } from "./write_rows.ts";
import { outboxAddEval, parseOutboxAdd } from "./outbox_add.ts";

const processBatchScript = LuaScript.fromFile(
  "process_batch",
  "../lua/process_batch.lua",
  import.meta.url,
);

/** The outbox's consumer group (one per payment stream's outbox). */
export const LEDGER_GROUP = "pix_ledger";

/**
 * One ledger row as the outbox carries it:
 * `[stream_id, transaction_id|null, backend_id|null, amount|null, status, error_code|null,
 *   error_message|null, deliveries]`.
 */
export type OutboxRow = [
  streamId: string,
  transactionId: string | null,
  backendId: string | null,
  amount: string | null,
  status: "done" | "error",
  errorCode: number | null,
  errorMessage: string | null,
  deliveries: number,
];

/** One outbox entry: a batch's rows and where, when and how fast it was processed. */
export interface OutboxBatch {
  /** UUIDv7 of the batch (the processing_metrics key). */
  id: string;
  stream: string;
  consumer: string;
  /** When the batch was applied (epoch ms). */
  appliedMs: number;
  /** The consumer's time on the batch, ms. */
  processingMs: number;
  rows: OutboxRow[];
}

const HEADER = 6;
const STRIDE = 9;

/**
 * Reads the ledger rows out of a `process_batch` call (layout in `lua/process_batch.lua`):
 * accepted payments become `done` rows, rejected ones `error` rows, deleted entries nothing.
 */
export function batchRows(batch: Batch, info: Pick<BatchInfo, "deliveries">): OutboxRow[] {
  const a = batch.args;
  const rows: OutboxRow[] = [];
  for (let i = HEADER; i + STRIDE <= a.length; i += STRIDE) {
    const [kind, id, tx, backend] = [a[i], a[i + 1], a[i + 2], a[i + 3]].map(String);
    if (kind === "ok") {
      const deliveries = info.deliveries?.get(id) ?? 1;
      rows.push([id, tx, backend, String(a[i + 6]), "done", null, null, deliveries]);
    } else if (kind === "reject") {
      let amount: string | null = null;
      try {
        const cents = parseAmountCents(String(JSON.parse(String(a[i + 8])).amount ?? ""));
        if (cents !== undefined) amount = formatCents(cents);
      } catch { /* no usable amount */ }
      rows.push([
        id,
        TRANSACTION_ID_PATTERN.test(tx) ? tx : null,
        backend === "" ? null : backend,
        amount,
        "error",
        Number(a[i + 6]),
        String(a[i + 7]),
        Number(a[i + 5]),
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
    async apply(redis: Redis, batch: Batch, info: BatchInfo): Promise<number[]> {
      const rows = batchRows(batch, info);
      if (rows.length === 0) {
        return await processBatchScript.run(redis, batch.keys, batch.args) as number[];
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
      return counts as number[];
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
