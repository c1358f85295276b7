/**
 * The ledger writer: reads the outbox with its own consumer group, writes each read (several
 * batches) to PostgreSQL in one transaction, then acknowledges and deletes those outbox entries.
 * When PostgreSQL is away, or does not answer within the connect timeout, it says so once, keeps
 * the rows in Redis and retries with backoff; when it is back it says so once and catches up. An
 * error no retry heals (a wrong password, a dropped database, a revoked permission: see
 * `unhealableReason`) stops the writer and is reported through `onFatal`. A writer killed at any
 * point loses nothing: what it held is pending in the outbox group, re-read by the same name or
 * reclaimed by another writer.
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
  redactSecrets,
  type Redis,
  sleep,
  unhealableReason,
} from "@fastpix/infra";
import { fieldsToRecord, ledgerBacklogKey, ledgerOutboxKey } from "@fastpix/pix";
import { LEDGER_GROUP } from "./outbox.ts";
import { isConnectionError, type Postgres, PostgresTimeoutError } from "./postgres.ts";
import { type EncodedBatch, writeBatches } from "./write_rows.ts";

const ackScript = LuaScript.fromFile("outbox_ack", "./lua/outbox_ack.lua", import.meta.url);

type OutboxEntry = [id: string, fields: string[] | null];

/** Options of {@link LedgerWriter}. */
export interface LedgerWriterOptions {
  db: Postgres;
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
  /**
   * Called once when PostgreSQL fails in a way no retry heals (the reason, one line, without
   * secrets); the writer has stopped. Unset: such errors are retried like the others.
   */
  onFatal?: (reason: string) => void;
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
  /** Aborts the PostgreSQL operation in flight and any backoff (the drain deadline passed). */
  #abort = new AbortController();
  #fatal: string | undefined;

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
    // Whatever PostgreSQL is doing, the writer is done by the deadline; at once when PostgreSQL is
    // known to be away (nothing would be written).
    const timer = setTimeout(() => this.#abort.abort(), drainMs);
    if (this.#downSince !== undefined) this.#abort.abort();
    try {
      await this.#running;
      while (
        Date.now() < this.#deadline && this.#downSince === undefined && this.#fatal === undefined
      ) {
        const entries = await this.#read(">", false);
        if (entries.length === 0) break;
        await this.#flush(entries);
      }
    } catch (error) {
      this.#log.warn(`ledger drain stopped: ${errorMessage(error)}`);
    } finally {
      clearTimeout(timer);
    }
    this.redis.disconnect();
    return this.stats;
  }

  /** Whether a failed write is to be left for the next writer (stopping, and out of time). */
  #givingUp(): boolean {
    return this.#stopping && (Date.now() > this.#deadline || this.#abort.signal.aborted);
  }

  async #run(): Promise<void> {
    let failures = 0;
    let cursor: string | undefined = "0"; // own pending entries first (an earlier life's)
    let nextClaimAt = 0;
    while (!this.#stopping && this.#fatal === undefined) {
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
        if (this.#fatal !== undefined) break;
        failures++;
        this.#log.warn(`ledger writer: ${redactSecrets(errorMessage(error))}; retrying`);
        await sleep(backoffMs(failures), this.#abort.signal);
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
        this.stats.rows += await this.#write(batches);
        break;
      } catch (error) {
        if (isDataError(error)) {
          this.stats.rows += await this.#writeEach(batches);
          break;
        }
        this.stats.failures++;
        if (this.#isFatal(error)) return;
        await this.#reportFailure(error);
        if (this.#givingUp()) return;
        await sleep(backoffMs(attempt), this.#abort.signal);
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
          written += await this.#write([batch]);
          break;
        } catch (error) {
          if (isDataError(error)) {
            this.#log.error(`dropping an unreadable ledger batch: ${errorMessage(error)}`);
            break;
          }
          if (this.#isFatal(error)) throw error;
          await this.#reportFailure(error);
          if (this.#givingUp()) throw error;
          await sleep(backoffMs(attempt), this.#abort.signal);
        }
      }
    }
    return written;
  }

  /**
   * One write, bounded by the client's deadline and by {@link close}'s. A write that has no answer
   * within the connect timeout is reported as an outage at once (it may still finish).
   */
  async #write(batches: EncodedBatch[]): Promise<number> {
    const db = this.#o.db;
    const stalled = setTimeout(() => {
      const waited = (db.timeouts.connectMs / 1000).toFixed(1);
      this.#reportFailure(new PostgresTimeoutError(`no answer within ${waited} s`)).catch(() => {});
    }, db.timeouts.connectMs);
    try {
      return await db.run((sql) => writeBatches(sql, batches), { signal: this.#abort.signal });
    } finally {
      clearTimeout(stalled);
    }
  }

  /** Whether `error` stops the writer for good (see `unhealableReason`); says so once if it does. */
  #isFatal(error: unknown): boolean {
    const reason = unhealableReason(error);
    if (reason === undefined || this.#o.onFatal === undefined) return false;
    if (this.#fatal === undefined) {
      this.#fatal = `PostgreSQL ledger at ${this.#o.db.where} refused: ${
        redactSecrets(reason)
      }: fix POSTGRES_DSN (rows wait in Redis)`;
      this.#stopping = true;
      this.#o.onFatal(this.#fatal);
    }
    return true;
  }

  /** One log line per outage (the first problem), not one per retry. */
  async #reportFailure(error: unknown): Promise<void> {
    const code = (error as { code?: string })?.code;
    const problem = code === "42P01"
      ? "the ledger tables are missing: run deno task migrate"
      : redactSecrets(errorMessage(error));
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
      ? `PostgreSQL ledger unavailable at ${this.#o.db.where} (${problem})`
      : `Cannot write the ledger to ${this.#o.db.where}: ${problem}`;
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
