/**
 * The PostgreSQL ledger as the consumer uses it: the outbox `apply` hook plus a writer draining
 * the outbox, opened when `POSTGRES_DSN` is set.
 * @module
 */
import { createLogger, errorMessage, type Logger, redactUrl } from "@fastpix/infra";
import type { BatchHooks } from "../batch_hooks.ts";
import { outboxHooks } from "./outbox.ts";
import { LedgerWriter, type LedgerWriterStats } from "./ledger_writer.ts";
import { connectPostgres, isConnectionError, type Sql } from "./postgres.ts";
import { requireSchema } from "./migrate.ts";

/** Options of {@link Ledger.open}. */
export interface LedgerOptions {
  dsn: string;
  redisUrl: string;
  stream: string;
  /** Name of this process's writer in the outbox group. */
  consumerName: string;
  /** Most rows that may wait for PostgreSQL before consumers pause (`LEDGER_MAX_BACKLOG`). */
  maxBacklog: number;
  /** Outbox entries a dead writer held longer than this are taken over (`IDLE_THRESHOLD_MS`). */
  claimIdleMs: number;
  logger?: Logger;
}

/** Default of `LEDGER_MAX_BACKLOG`. */
export const DEFAULT_LEDGER_MAX_BACKLOG = 200_000;

/** An open ledger: pass {@link hooks} to the consumers, {@link close} after they stopped. */
export class Ledger {
  private constructor(
    readonly sql: Sql,
    readonly writer: LedgerWriter,
    readonly hooks: BatchHooks & { release(): void },
  ) {}

  /**
   * Connects, checks the schema (a database behind `deno task migrate` is a one-line error; one that
   * cannot be reached is only logged: rows wait in Redis until it can), and starts the writer.
   */
  static async open(options: LedgerOptions): Promise<Ledger> {
    const log = options.logger ?? createLogger("ledger");
    const sql = connectPostgres(options.dsn);
    try {
      await requireSchema(sql);
    } catch (error) {
      if (!isConnectionError(error)) {
        await sql.end({ timeout: 1 });
        throw error;
      }
      log.warn(
        `PostgreSQL ledger unavailable at ${redactUrl(options.dsn)} (${
          errorMessage(error)
        }); starting anyway: rows wait in Redis until it answers`,
      );
    }
    const writer = new LedgerWriter({ ...options, sql, logger: log });
    await writer.ensureGroup();
    writer.start();
    return new Ledger(sql, writer, outboxHooks({ maxBacklog: options.maxBacklog, logger: log }));
  }

  /** Releases paused consumers, drains the outbox for up to `drainMs`, and disconnects. */
  async close(drainMs = 5000): Promise<LedgerWriterStats> {
    this.hooks.release();
    const stats = await this.writer.close(drainMs);
    await this.sql.end({ timeout: 1 });
    return stats;
  }
}
