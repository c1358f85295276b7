/**
 * PostgreSQL connections for the ledger (`npm:postgres`): few connections, quiet notices, and a
 * bound on every wait. The server enforces statement and idle-in-transaction timeouts; the client
 * adds a connect timeout and its own deadline on each operation, which also holds when the server
 * cannot enforce anything (frozen, or the network silent). A client whose operation missed its
 * deadline, or whose driver failed, is replaced by a fresh one.
 *
 * The driver guard: postgres.js 3.4.x can throw `TypeError: Cannot read properties of null
 * (reading 'write')` from its `setImmediate(nextWrite)` callback when the connection closed first
 * (a backend killed, a server restarting or recovering from a crash): `closed()` has set
 * `socket = null` (porsager/postgres#1154 and #1066; the guard of PR #1168 is not released, and
 * 3.4.9, pinned here, is the latest version; under Deno see also denoland/deno#34667). The throw
 * escapes every `await`, so it would end the process. While a {@link Postgres} is open, the process
 * is guarded: an uncaught error or unhandled rejection whose top stack frame is in the driver is
 * logged and swallowed, and every open client is replaced (the failed connection keeps its unsent
 * bytes and its stale timer, and would never connect again); the operations in flight fail with a
 * connection error (`DRIVER_FAILED`), and their callers retry. Remove the guard once a release
 * fixes the driver (`tests/pg_faults_test.ts` kills backends under load to show it).
 * @module
 */
import postgres from "postgres";
import {
  createLogger,
  errorMessage,
  type Logger,
  redactSecrets,
  redactUrl,
  unhealableReason,
} from "@fastpix/infra";
import { UserError } from "@fastpix/pix";

/** A postgres.js client. */
export type Sql = postgres.Sql;

/** How long PostgreSQL may take, in ms (`POSTGRES_*_TIMEOUT_MS`). */
export interface PostgresTimeouts {
  /** To connect and log in (`POSTGRES_CONNECT_TIMEOUT_MS`). */
  connectMs: number;
  /** One statement, server side (`statement_timeout`; `POSTGRES_STATEMENT_TIMEOUT_MS`). */
  statementMs: number;
  /** A transaction left idle, server side (`POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS`). */
  idleInTransactionMs: number;
}

/** Defaults of {@link PostgresTimeouts}. */
export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = {
  connectMs: 5000,
  statementMs: 10_000,
  idleInTransactionMs: 10_000,
};

/** Opens a postgres.js client for `dsn` (lazily: the first query connects). */
export function connectPostgres(
  dsn: string,
  options: { max?: number; timeouts?: Partial<PostgresTimeouts> } = {},
): Sql {
  const t = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
  return postgres(dsn, {
    max: options.max ?? 2,
    onnotice: () => {},
    connect_timeout: t.connectMs / 1000,
    idle_timeout: 60,
    connection: {
      application_name: "fastpix",
      // Generic plans: a custom plan would fold the big JSON parameter into a constant and parse
      // it while planning, then again while executing.
      plan_cache_mode: "force_generic_plan",
      statement_timeout: t.statementMs,
      idle_in_transaction_session_timeout: t.idleInTransactionMs,
    },
  });
}

/** An operation that got no answer within its deadline (the client gave up; code `CLIENT_TIMEOUT`). */
export class PostgresTimeoutError extends Error {
  override name = "PostgresTimeoutError";
  readonly code = "CLIENT_TIMEOUT";
}

/** Codes (and prefixes) of errors that mean PostgreSQL cannot be used now, but may be later. */
const UNAVAILABLE =
  /^(ECONN|ENOTFOUND|EAI_|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|CONNECT_TIMEOUT|CONNECTION_|CLIENT_TIMEOUT|DRIVER_FAILED|57|08|53|55P03)/;

/**
 * Whether `error` says PostgreSQL cannot be reached or does not answer in time (as opposed to a bad
 * query): a network error, a closed or timed-out connection, a server shutting down or starting
 * (57P0x), a statement cancelled by its timeout (57014), too many connections (53xxx).
 */
export function isConnectionError(error: unknown): boolean {
  return UNAVAILABLE.test((error as { code?: string })?.code ?? "");
}

/** Whether `error` is a timeout: the client's deadline, the connect timeout, statement_timeout. */
export function isTimeout(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === "CLIENT_TIMEOUT" || code === "CONNECT_TIMEOUT" || code === "57014";
}

/** Where the driver's own code lives in a stack trace (npm cache or node_modules). */
const DRIVER_FRAME =
  /[\\/]postgres(?:@[^\\/]+)?[\\/](?:\d+\.\d+\.\d+[\\/])?(?:cjs[\\/]|cf[\\/])?src[\\/][\w.]+\.js:/;

/** Whether `error` was thrown by postgres.js' own code (its top stack frame is in the driver). */
export function isDriverFault(error: unknown): boolean {
  const stack = (error as { stack?: unknown })?.stack;
  if (typeof stack !== "string") return false;
  const top = stack.split("\n").find((line) => /^\s+at /.test(line));
  return top !== undefined && DRIVER_FRAME.test(top);
}

const open = new Set<Postgres>();
let guardLog: Logger | undefined;

function onDriverFault(event: Event, error: unknown): void {
  if (open.size === 0 || !isDriverFault(error)) return;
  event.preventDefault();
  guardLog?.warn(
    `PostgreSQL driver failed outside any query (${
      redactSecrets(errorMessage(error))
    }; porsager/postgres#1154): reconnecting`,
  );
  for (const db of open) db.replace(error);
}

const onError = (event: ErrorEvent) => onDriverFault(event, event.error);
const onRejection = (event: PromiseRejectionEvent) => onDriverFault(event, event.reason);

function guard(db: Postgres, log: Logger): void {
  if (open.size === 0) {
    globalThis.addEventListener("error", onError);
    globalThis.addEventListener("unhandledrejection", onRejection);
  }
  guardLog = log;
  open.add(db);
}

function unguard(db: Postgres): void {
  open.delete(db);
  if (open.size > 0) return;
  globalThis.removeEventListener("error", onError);
  globalThis.removeEventListener("unhandledrejection", onRejection);
}

/** Options of {@link Postgres}. */
export interface PostgresOptions {
  timeouts?: Partial<PostgresTimeouts>;
  /** Connections at most (default 2). */
  max?: number;
  /** Where the driver guard logs. */
  logger?: Logger;
}

/**
 * A replaceable postgres.js client with a deadline on every operation, under the driver guard
 * while open (see the module comment). {@link run} is the way in.
 */
export class Postgres {
  readonly timeouts: PostgresTimeouts;
  #sql: Sql;
  #options: PostgresOptions;
  /** Rejects the operations in flight on the current client when it is replaced. */
  #replaced = new AbortController();
  #ended = false;

  constructor(readonly dsn: string, options: PostgresOptions = {}) {
    this.#options = options;
    this.timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
    this.#sql = this.#connect();
    guard(this, options.logger ?? createLogger("postgres"));
  }

  #connect(): Sql {
    return connectPostgres(this.dsn, { max: this.#options.max, timeouts: this.timeouts });
  }

  /** The current client (for code that brings its own bounds; prefer {@link run}). */
  get sql(): Sql {
    return this.#sql;
  }

  /** The DSN without its password, for messages. */
  get where(): string {
    return redactUrl(this.dsn);
  }

  /**
   * Runs `operation` on the current client. It fails with a {@link PostgresTimeoutError} after
   * `deadlineMs` (default: the connect plus the statement timeout), and at once when `signal`
   * aborts or the driver guard replaces the client; the client is then replaced, so the next
   * operation starts on fresh connections.
   */
  async run<T>(
    operation: (sql: Sql) => Promise<T>,
    options: { deadlineMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    if (this.#ended) throw new Error("The PostgreSQL client is closed");
    const sql = this.#sql;
    const replaced = this.#replaced.signal;
    const deadlineMs = options.deadlineMs ?? this.timeouts.connectMs + this.timeouts.statementMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cleanup = () => {};
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new PostgresTimeoutError(`no answer from PostgreSQL within ${seconds(deadlineMs)}`),
        );
      }, deadlineMs);
      const onAbort = () => reject(abortReason(options.signal, replaced));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      replaced.addEventListener("abort", onAbort, { once: true });
      cleanup = () => {
        options.signal?.removeEventListener("abort", onAbort);
        replaced.removeEventListener("abort", onAbort);
      };
      if (options.signal?.aborted || replaced.aborted) onAbort();
    });
    const work = Promise.resolve().then(() => operation(sql));
    work.catch(() => {}); // abandoned when the deadline wins
    try {
      return await Promise.race([work, stop]);
    } catch (error) {
      if (error instanceof PostgresTimeoutError || options.signal?.aborted) {
        if (sql === this.#sql) this.replace(error);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      cleanup();
    }
  }

  /**
   * Replaces the client with a fresh one: operations in flight on the old one fail at once, and
   * its connections are closed without waiting for the server.
   */
  replace(reason?: unknown): void {
    if (this.#ended) return;
    const old = this.#sql;
    this.#replaced.abort(reason);
    this.#replaced = new AbortController();
    this.#sql = this.#connect();
    endQuietly(old);
  }

  /**
   * Closes the client and drops the guard: operations in flight through {@link run} fail at once,
   * and the connections get at most `timeoutMs` to close cleanly.
   */
  async end(timeoutMs = 1000): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#replaced.abort(new Error("The PostgreSQL client is closed"));
    await endQuietly(this.#sql, timeoutMs);
    unguard(this);
  }
}

/** Ends a client without waiting more than `timeoutMs` (a frozen server never answers). */
async function endQuietly(sql: Sql, timeoutMs = 0): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    sql.end({ timeout: timeoutMs / 1000 }).catch(() => {}),
    new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs + 500)),
  ]);
  clearTimeout(timer);
}

function abortReason(signal: AbortSignal | undefined, replaced: AbortSignal): Error {
  if (signal?.aborted) return new Error("stopped while waiting for PostgreSQL");
  return Object.assign(
    new Error(`connection lost (${errorMessage(replaced.reason)})`),
    { code: "DRIVER_FAILED" },
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

/**
 * Connects and checks PostgreSQL answers, within the connect and statement timeouts; else a
 * one-line {@link UserError} saying why (the DSN shown without its password).
 */
export async function requirePostgres(
  dsn: string | undefined,
  timeouts: Partial<PostgresTimeouts> = {},
): Promise<Postgres> {
  if (!dsn) throw new UserError("POSTGRES_DSN is not set: pass --postgres-dsn or set POSTGRES_DSN");
  const db = new Postgres(dsn, { timeouts });
  try {
    await db.run((sql) => sql`SELECT 1`);
    return db;
  } catch (error) {
    await db.end(0);
    throw postgresUserError(db, error);
  }
}

/**
 * The one line for a command that cannot use PostgreSQL: why, where (without the password), and
 * what to do.
 */
export function postgresUserError(db: Postgres, error: unknown): UserError {
  if (error instanceof UserError) return error;
  const problem = redactSecrets(errorMessage(error));
  const unhealable = unhealableReason(error);
  if (unhealable !== undefined) {
    return new UserError(
      `PostgreSQL at ${db.where} refused: ${redactSecrets(unhealable)}: fix POSTGRES_DSN`,
    );
  }
  if (isTimeout(error)) {
    return new UserError(
      `PostgreSQL at ${db.where} did not answer in time (${problem}): is it frozen, overloaded or ` +
        "a table locked? (POSTGRES_CONNECT_TIMEOUT_MS, POSTGRES_STATEMENT_TIMEOUT_MS)",
    );
  }
  if (isConnectionError(error)) {
    return new UserError(
      `Cannot reach PostgreSQL at ${db.where} (${problem}): start it or fix POSTGRES_DSN`,
    );
  }
  return new UserError(`PostgreSQL at ${db.where} failed: ${problem}`);
}
