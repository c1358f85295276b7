/**
 * The PostgreSQL ledger as the consumer uses it: the outbox `apply` hook plus a writer draining
 * the outbox, opened when `POSTGRES_DSN` is set.
 * @module
 */
import {
  createLogger,
  errorMessage,
  type Logger,
  redactSecrets,
  unhealableReason,
} from "@fastpix/infra";
import type { BatchHooks } from "../batch_hooks.ts";
import { outboxHooks } from "./outbox.ts";
import { LedgerWriter, type LedgerWriterStats } from "./ledger_writer.ts";
import {
  isConnectionError,
  Postgres,
  type PostgresTimeouts,
  postgresUserError,
} from "./postgres.ts";
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
  /** Connect, statement and idle-in-transaction timeouts (`POSTGRES_*_TIMEOUT_MS`). */
  timeouts?: Partial<PostgresTimeouts>;
  /**
   * Called once when PostgreSQL fails in a way no retry heals, after the writer stopped: the one
   * line to end the process with.
   */
  onFatal?: (reason: string) => void;
  logger?: Logger;
}

/** Default of `LEDGER_MAX_BACKLOG`. */
export const DEFAULT_LEDGER_MAX_BACKLOG = 200_000;

/** An open ledger: pass {@link hooks} to the consumers, {@link close} after they stopped. */
export class Ledger {
  private constructor(
    readonly db: Postgres,
    readonly writer: LedgerWriter,
    readonly hooks: BatchHooks & { release(): void },
  ) {}

  /**
   * Connects, checks the schema, and starts the writer. A database behind `deno task migrate`, or
   * whose applied migrations were edited, and an error no retry heals (wrong password, missing
   * database or permission) are a one-line error; a database that cannot be reached now is only
   * logged: rows wait in Redis until it answers.
   */
  static async open(options: LedgerOptions): Promise<Ledger> {
    const log = options.logger ?? createLogger("ledger");
    const db = new Postgres(options.dsn, { timeouts: options.timeouts, logger: log });
    try {
      await db.run((sql) => requireSchema(sql));
    } catch (error) {
      if (!isConnectionError(error) || unhealableReason(error) !== undefined) {
        await db.end(0);
        throw postgresUserError(db, error);
      }
      log.warn(
        `PostgreSQL ledger unavailable at ${db.where} (${
          redactSecrets(errorMessage(error))
        }); starting anyway: rows wait in Redis until it answers`,
      );
    }
    const writer = new LedgerWriter({ ...options, db, logger: log });
    await writer.ensureGroup();
    writer.start();
    return new Ledger(db, writer, outboxHooks({ maxBacklog: options.maxBacklog, logger: log }));
  }

  /** Releases paused consumers, drains the outbox for up to `drainMs`, and disconnects. */
  async close(drainMs = 5000): Promise<LedgerWriterStats> {
    this.hooks.release();
    const stats = await this.writer.close(drainMs);
    await this.db.end(1000);
    return stats;
  }
}
