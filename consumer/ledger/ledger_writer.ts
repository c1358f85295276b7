/**
 * The ledger writer: reads the outbox with its own consumer group, writes each read (several
 * batches) to PostgreSQL in one transaction, then acknowledges and deletes those outbox entries.
 * When PostgreSQL is away it says so once, keeps the rows in Redis and retries with backoff; when
 * it is back it says so once and catches up. A writer killed at any point loses nothing: what it
 * held is pending in the outbox group, re-read by the same name or reclaimed by another writer.
 * @module
 */
import {
  backoffMs,
  createLogger,
  createRedis,
  ensureGroup,
  errorMessage,
  type Logger,
  LuaScript,
  redactUrl,
  type Redis,
  sleep,
} from "@fastpix/infra";
import { fieldsToRecord, ledgerBacklogKey, ledgerOutboxKey } from "@fastpix/pix";
import { LEDGER_GROUP } from "./outbox.ts";
import { isConnectionError, type Sql } from "./postgres.ts";
import { type EncodedBatch, writeBatches } from "./write_rows.ts";

const ackScript = LuaScript.fromFile("outbox_ack", "./lua/outbox_ack.lua", import.meta.url);

type OutboxEntry = [id: string, fields: string[] | null];

/** Options of {@link LedgerWriter}. */
export interface LedgerWriterOptions {
  sql: Sql;
  /** For log lines only. */
  dsn: string;
  redisUrl: string;
  /** The payment stream whose outbox this writer drains. */
  stream: string;
  /** Name in the outbox group. */
  consumerName: string;
  /** Outbox entries held longer than this by a writer are taken over (`IDLE_THRESHOLD_MS`). */
  claimIdleMs: number;
  /** Backlog limit, for log lines. */
  maxBacklog: number;
  /** Outbox entries (batches) per PostgreSQL transaction. */
  readCount?: number;
  logger?: Logger;
}

/** What a writer has done. */
export interface LedgerWriterStats {
  /** PostgreSQL transactions committed. */
  flushes: number;
  /** Outbox batches written. */
  batches: number;
  /** Payments rows inserted or upgraded (rows already there do not count). */
  rows: number;
  /** Failed PostgreSQL attempts. */
  failures: number;
}

/** Drains one payment stream's ledger outbox into PostgreSQL. */
export class LedgerWriter {
  readonly stats: LedgerWriterStats = { flushes: 0, batches: 0, rows: 0, failures: 0 };
  readonly redis: Redis;
  #o: LedgerWriterOptions;
  #log: Logger;
  #outbox: string;
  #backlog: string;
  #stopping = false;
  #deadline = Infinity;
  #downSince: number | undefined;
  #lastProblem = "";
  #running: Promise<void> | undefined;

  constructor(options: LedgerWriterOptions) {
    this.#o = options;
    this.#log = options.logger ?? createLogger(`ledger ${options.consumerName}`);
    this.redis = createRedis(options.redisUrl, {
      name: `${options.consumerName}:ledger`,
      logger: this.#log,
    });
    this.#outbox = ledgerOutboxKey(options.stream);
    this.#backlog = ledgerBacklogKey(options.stream);
  }

  /** Creates the outbox group (and stream) if missing, from the start so nothing is missed. */
  async ensureGroup(): Promise<void> {
    await ensureGroup(this.redis, this.#outbox, LEDGER_GROUP);
  }

  /** Starts the loop in the background (see {@link close}). */
  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * Stops reading, then keeps writing what is already in the outbox for up to `drainMs` (while
   * PostgreSQL answers); whatever is left waits in Redis for the next writer.
   */
  async close(drainMs = 5000): Promise<LedgerWriterStats> {
    this.#deadline = Date.now() + drainMs;
    this.#stopping = true;
    await this.#running;
    try {
      while (Date.now() < this.#deadline && this.#downSince === undefined) {
        const entries = await this.#read(">", false);
        if (entries.length === 0) break;
        await this.#flush(entries);
      }
    } catch (error) {
      this.#log.warn(`ledger drain stopped: ${errorMessage(error)}`);
    }
    this.redis.disconnect();
    return this.stats;
  }

  async #run(): Promise<void> {
    let failures = 0;
    let cursor: string | undefined = "0"; // own pending entries first (an earlier life's)
    let nextClaimAt = 0;
    while (!this.#stopping) {
      try {
        if (failures > 0 || cursor === "0") await this.ensureGroup();
        let entries: OutboxEntry[] = [];
        if (Date.now() >= nextClaimAt) {
          nextClaimAt = Date.now() + Math.max(100, this.#o.claimIdleMs / 2);
          entries = await this.#claim();
        }
        if (entries.length === 0) {
          entries = await this.#read(cursor ?? ">", cursor === undefined);
          if (cursor !== undefined) {
            cursor = entries.length === 0 ? undefined : entries[entries.length - 1][0];
          }
        }
        if (entries.length > 0) await this.#flush(entries);
        failures = 0;
      } catch (error) {
        failures++;
        this.#log.warn(`ledger writer: ${errorMessage(error)}; retrying`);
        await sleep(backoffMs(failures));
      }
    }
  }

  async #read(id: string, block: boolean): Promise<OutboxEntry[]> {
    const count = this.#o.readCount ?? 16;
    const c = this.#o.consumerName;
    const reply = (block
      ? await this.redis.xreadgroup(
        "GROUP",
        LEDGER_GROUP,
        c,
        "COUNT",
        count,
        "BLOCK",
        200,
        "STREAMS",
        this.#outbox,
        id,
      )
      : await this.redis.xreadgroup(
        "GROUP",
        LEDGER_GROUP,
        c,
        "COUNT",
        count,
        "STREAMS",
        this.#outbox,
        id,
      )) as [string, OutboxEntry[]][] | null; // deno-fmt-ignore
    return reply?.[0]?.[1] ?? [];
  }

  /** Takes over outbox entries a dead (or stuck) writer held for longer than `claimIdleMs`. */
  async #claim(): Promise<OutboxEntry[]> {
    const [, entries] = await this.redis.xautoclaim(
      this.#outbox,
      LEDGER_GROUP,
      this.#o.consumerName,
      this.#o.claimIdleMs,
      "0-0",
      "COUNT",
      this.#o.readCount ?? 16,
    ) as [string, OutboxEntry[]]; // deno-fmt-ignore
    return entries;
  }

  /** Writes the entries' batches until PostgreSQL takes them (or the drain deadline passes). */
  async #flush(entries: OutboxEntry[]): Promise<void> {
    const batches: EncodedBatch[] = [];
    const acks: (string | number)[] = [];
    for (const [id, flat] of entries) {
      const batch = flat === null ? undefined : parseOutbox(flat);
      // The backlog grew by the entry's "rows" field: it shrinks by the same.
      acks.push(id, Number(fieldsToRecord(flat ?? []).rows) || 0);
      if (batch === undefined) {
        this.#log.error(`outbox entry ${id} is unreadable; dropping it`);
        continue;
      }
      batches.push(batch);
    }
    for (let attempt = 1;; attempt++) {
      try {
        this.stats.rows += await writeBatches(this.#o.sql, batches);
        break;
      } catch (error) {
        if (isDataError(error)) {
          this.stats.rows += await this.#writeEach(batches);
          break;
        }
        this.stats.failures++;
        await this.#reportFailure(error);
        if (this.#stopping && Date.now() > this.#deadline) return;
        await sleep(backoffMs(attempt));
      }
    }
    this.stats.flushes++;
    this.stats.batches += batches.length;
    if (this.#downSince !== undefined) {
      const backlog = await this.redis.get(this.#backlog);
      this.#log.info(
        `PostgreSQL ledger is back after ${
          ((Date.now() - this.#downSince) / 1000).toFixed(1)
        } s: catching up (${backlog} rows waiting)`,
      );
      this.#downSince = undefined;
      this.#lastProblem = "";
    }
    await ackScript.run(this.redis, [this.#outbox, this.#backlog], [LEDGER_GROUP, ...acks]);
  }

  /**
   * After a data error (an outbox entry PostgreSQL cannot read), writes the batches one by one and
   * drops, with an error line, only those that fail the same way; others are retried as usual.
   */
  async #writeEach(batches: EncodedBatch[]): Promise<number> {
    let written = 0;
    for (const batch of batches) {
      for (let attempt = 1;; attempt++) {
        try {
          written += await writeBatches(this.#o.sql, [batch]);
          break;
        } catch (error) {
          if (isDataError(error)) {
            this.#log.error(`dropping an unreadable ledger batch: ${errorMessage(error)}`);
            break;
          }
          await this.#reportFailure(error);
          await sleep(backoffMs(attempt));
        }
      }
    }
    return written;
  }

  /** One log line per outage (the first problem), not one per retry. */
  async #reportFailure(error: unknown): Promise<void> {
    const code = (error as { code?: string })?.code;
    const problem = code === "42P01"
      ? "the ledger tables are missing: run deno task migrate"
      : errorMessage(error);
    const first = this.#downSince === undefined;
    this.#downSince ??= Date.now();
    if (problem === this.#lastProblem) return;
    this.#lastProblem = problem;
    if (!first) {
      this.#log.debug(`ledger still failing: ${problem}`);
      return;
    }
    const backlog = await this.redis.get(this.#backlog).catch(() => "?");
    const what = isConnectionError(error)
      ? `PostgreSQL ledger unavailable at ${redactUrl(this.#o.dsn)} (${problem})`
      : `Cannot write the ledger to ${redactUrl(this.#o.dsn)}: ${problem}`;
    this.#log.warn(
      `${what}; rows wait in Redis (${backlog} now, the consumer pauses past ${this.#o.maxBacklog}) and are retried`,
    );
  }
}

/** Whether PostgreSQL refused the data itself (SQLSTATE class 22), which no retry will fix. */
function isDataError(error: unknown): boolean {
  return ((error as { code?: string })?.code ?? "").startsWith("22");
}

/** Reads an outbox entry; `undefined` when it is not one. */
export function parseOutbox(flat: readonly string[]): EncodedBatch | undefined {
  const r = fieldsToRecord(flat);
  const rows = Number(r.rows);
  const { payments, untracked, metrics } = r;
  if (
    !Number.isSafeInteger(rows) || payments === undefined || untracked === undefined ||
    metrics === undefined
  ) return undefined;
  // Cheap shape checks only: PostgreSQL parses the JSON (a bad entry fails its transaction).
  const shaped = (part: string) => part === "" || part[0] === "[";
  if (metrics[0] !== "[" || !shaped(payments) || !shaped(untracked)) return undefined;
  return { rows, payments, untracked, metrics };
}
