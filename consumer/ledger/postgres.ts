/**
 * PostgreSQL connections for the ledger (`npm:postgres`): few connections, quiet notices, short
 * connect timeout so an outage shows up quickly instead of hanging a flush.
 * @module
 */
import postgres from "postgres";
import { errorMessage, redactUrl } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";

/** A postgres.js client. */
export type Sql = postgres.Sql;

/** Opens a client for `dsn` (lazily: the first query connects). */
export function connectPostgres(dsn: string, options: { max?: number } = {}): Sql {
  return postgres(dsn, {
    max: options.max ?? 2,
    onnotice: () => {},
    connect_timeout: 3,
    idle_timeout: 60,
    // Generic plans: a custom plan would fold the big JSON parameter into a constant and parse
    // it while planning, then again while executing.
    connection: { application_name: "fastpix", plan_cache_mode: "force_generic_plan" },
  });
}

/** Whether `error` says PostgreSQL cannot be reached (as opposed to a bad query). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? "";
  return /^(ECONN|ENOTFOUND|EPIPE|ETIMEDOUT|CONNECT_TIMEOUT|CONNECTION_)/.test(code) ||
    code.startsWith("57P") || code.startsWith("08");
}

/** Connects and checks PostgreSQL answers; a one-line {@link UserError} when it does not. */
export async function requirePostgres(dsn: string | undefined): Promise<Sql> {
  if (!dsn) throw new UserError("POSTGRES_DSN is not set: pass --postgres-dsn or set POSTGRES_DSN");
  const sql = connectPostgres(dsn);
  try {
    await sql`SELECT 1`;
    return sql;
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw new UserError(
      `Cannot reach PostgreSQL at ${redactUrl(dsn)} (${
        errorMessage(error)
      }): start it or fix POSTGRES_DSN`,
    );
  }
}
