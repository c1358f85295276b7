/**
 * Fixtures of the PostgreSQL ledger tests: the ledger-versus-Redis comparison, bounded waits for
 * child processes, signals to a private server's processes, and timestamps of log lines.
 * @module
 */
import assert from "node:assert/strict";
import type { Sql } from "@fastpix/consumer";
import { type Redis } from "@fastpix/infra";
import { dlqKey, ledgerBacklogKey } from "@fastpix/pix";
import type { ChildTool, PostgresServer } from "./_helpers.ts";

const STREAM = "pix_payments";

/**
 * Waits up to `ms` for `child` to exit; one still running then is SIGKILLed and reported with
 * `timedOut` (its output so far included), so a test fails instead of hanging.
 */
export async function finishedWithin(
  child: ChildTool,
  ms: number,
): Promise<{ code: number; output: string; timedOut: boolean; seconds: number }> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = await Promise.race([
    child.finished().then(() => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), ms)),
  ]);
  clearTimeout(timer);
  const seconds = (Date.now() - started) / 1000;
  if (timedOut) child.kill("SIGKILL");
  return { ...await child.finished(), timedOut, seconds };
}

/** The ledger's done rows, their sum and its error rows. */
export async function ledgerTotals(sql: Sql) {
  const [row] = await sql`
    SELECT count(*) FILTER (WHERE status = 'done')::int AS done,
           coalesce(sum(amount) FILTER (WHERE status = 'done'), 0)::text AS amount,
           count(*) FILTER (WHERE status = 'error')::int AS errors
    FROM payments`;
  return row as unknown as { done: number; amount: string; errors: number };
}

/** Redis' processed_count. */
export const count = async (redis: Redis) => Number(await redis.get("processed_count"));
/** Ledger rows waiting in Redis for PostgreSQL. */
export const backlog = async (redis: Redis) => Number(await redis.get(ledgerBacklogKey(STREAM)));

/** Everything the ledger must equal once the run is over. */
export async function assertLedgerMatchesRedis(redis: Redis, sql: Sql) {
  const totals = await ledgerTotals(sql);
  assert.equal(totals.done, await count(redis));
  assert.equal(totals.amount, await redis.get("total_amount"));
  assert.equal(totals.errors, await redis.xlen(dlqKey(STREAM)));
}

/** The process ids of a private PostgreSQL server: the postmaster and its children. */
export async function serverPids(pg: PostgresServer): Promise<number[]> {
  const pidFile = await Deno.readTextFile(`${pg.dir}/data/postmaster.pid`);
  const postmaster = Number(pidFile.split("\n")[0]);
  const out = await new Deno.Command("pgrep", { args: ["-P", String(postmaster)] }).output();
  const children = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  return [postmaster, ...children.map(Number)];
}

/** Freezes (SIGSTOP) or thaws (SIGCONT) a private PostgreSQL server, postmaster and children. */
export async function signalServer(pg: PostgresServer, signal: "SIGSTOP" | "SIGCONT") {
  for (const pid of await serverPids(pg)) {
    try {
      Deno.kill(pid, signal);
    } catch { /* gone */ }
  }
}

/** When the first line of `output` matching `pattern` was logged (its ISO time stamp, epoch ms). */
export function loggedAt(output: string, pattern: RegExp): number | undefined {
  const line = output.split("\n").find((l) => pattern.test(l));
  const stamp = line?.match(/^(\d{4}-\d\d-\d\dT[\d:.]+Z) /)?.[1];
  return stamp === undefined ? undefined : Date.parse(stamp);
}
