/**
 * Reconciliation, for operators after an incident: do the counters (`processed_count`,
 * `total_amount_cents`, `total_amount`), the confirmation streams (`<prefix><backend_id>`, within
 * their retention) and, when given, the PostgreSQL ledger say the same about what was paid?
 *
 * - Counters: `total_amount` is `total_amount_cents` with 2 places; both counts are integers.
 * - Confirmations: every `confirmed` entry is one counted payment, so while no entry was trimmed
 *   away their number and sum equal the counters (once trimmed, they can only be lower). A
 *   transaction confirmed twice was paid twice. Entries deleted inside what a stream retains (not
 *   trimmed from its head) are reported: confirmations were lost.
 * - Ledger: its `done` rows equal the counters; each transaction confirmed in the streams has a
 *   `done` row with the same amount, and (while nothing was trimmed) each `done` row was
 *   confirmed. Rows still in the outbox are reported as such, not compared.
 *
 * Read while consumers run, the sources move between reads: the counters are read before and after
 * everything else, and a change is reported (`busy`). Run it with the consumers stopped or idle.
 * @module
 */
import { formatCents, ledgerBacklogKey, ledgerOutboxKey, parseAmountCents } from "@fastpix/pix";
import { compareIds, flatToRecord, layoutKeys, type Redis } from "@fastpix/infra";
import type { Sql } from "./ledger/postgres.ts";

/** What disagrees. */
export type DifferenceKind =
  /** A counter holds something else than an integer, or `total_amount` is not the cents formatted. */
  | "counters"
  /** The counters moved while reconciling (consumers at work). */
  | "busy"
  /** Confirmed payments (number or sum) differ from the counters. */
  | "counters_vs_confirmations"
  /** A transaction has more than one `confirmed` entry. */
  | "confirmed_twice"
  /** A confirmation stream lost entries inside the range it retains. */
  | "confirmations_deleted"
  /** A `confirmed` entry without a transaction id or with an unreadable amount. */
  | "unreadable_confirmation"
  /** Ledger rows still wait in the outbox: the ledger is behind. */
  | "ledger_pending"
  /** The ledger's `done` rows (number or sum) differ from the counters. */
  | "ledger_vs_counters"
  /** Confirmed in the streams, no `done` row in the ledger. */
  | "missing_from_ledger"
  /** A `done` row in the ledger, no confirmation in the streams (which lost none). */
  | "ledger_not_confirmed"
  /** Confirmed with one amount, recorded in the ledger with another. */
  | "ledger_amount";

/** One disagreement, with the transactions involved. */
export interface Difference {
  kind: DifferenceKind;
  message: string;
  /** How many transactions are involved (0: the difference is in totals only). */
  transactions: number;
  /** The first of them (at most {@link ReconcileOptions.maxIds}). */
  transactionIds: string[];
}

/** What {@link reconcile} read and found. */
export interface ReconcileReport {
  agree: boolean;
  counters: { processedCount: number; totalAmountCents: string; totalAmount: string };
  confirmations: {
    streams: string[];
    confirmed: number;
    confirmedAmount: string;
    transactions: number;
    duplicates: number;
    rejected: number;
    /** Entries the streams no longer hold (trimmed by their cap or deleted); null: unknown. */
    missingEntries: number | null;
  };
  /** Absent without PostgreSQL. */
  ledger?: {
    done: number;
    doneAmount: string;
    errors: number;
    /** Rows (and outbox entries) not yet written to PostgreSQL. */
    pendingRows: number;
    pendingBatches: number;
  };
  differences: Difference[];
}

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  /** The payment stream (its outbox is the ledger's). */
  stream: string;
  /** Partitions of the layout (0: the single stream); counters are summed over them. */
  partitions: number;
  /** Prefix of the confirmation streams (`BACKEND_RESPONSE_PREFIX`). */
  responsePrefix: string;
  /** The PostgreSQL ledger; none: not compared. */
  sql?: Sql;
  /** Transaction ids listed per difference (default 20). */
  maxIds?: number;
}

interface Counters {
  processedCount: number;
  cents: bigint;
  problems: string[];
}

async function readCounters(redis: Redis, stream: string, partitions: number): Promise<Counters> {
  const counters: Counters = { processedCount: 0, cents: 0n, problems: [] };
  for (const k of layoutKeys({ stream, partitions })) {
    const [count, cents, text] = await redis.mget(
      k.processedCount,
      k.totalAmountCents,
      k.totalAmount,
    );
    const ok = (v: string | null) => v !== null && /^-?\d+$/.test(v);
    for (const [key, value] of [[k.processedCount, count], [k.totalAmountCents, cents]] as const) {
      if (value !== null && !ok(value)) {
        counters.problems.push(`${key} holds ${JSON.stringify(value)}, not an integer`);
      }
    }
    if (ok(count)) counters.processedCount += Number(count);
    if (ok(cents)) counters.cents += BigInt(cents!);
    const expected = ok(cents) ? formatCents(BigInt(cents!)) : null;
    if (text !== expected && !(text === null && expected === "0.00")) {
      counters.problems.push(
        `${k.totalAmount} is ${JSON.stringify(text)} but ${k.totalAmountCents} is ${
          JSON.stringify(cents)
        } (${expected ?? "no amount"})`,
      );
    }
  }
  return counters;
}

/** Escapes a key prefix for SCAN MATCH. */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&");

/** The confirmation streams: every stream key starting with `prefix` (partitions' included). */
async function confirmationStreams(redis: Redis, prefix: string): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(
      cursor,
      "MATCH",
      `${globEscape(prefix)}*`,
      "COUNT",
      1000,
      "TYPE",
      "stream",
    );
    for (const key of found) keys.add(key);
    cursor = next;
  } while (cursor !== "0");
  return [...keys].sort();
}

/** Per transaction: `confirmed` entries and their amount (of the first one). */
interface Confirmed {
  count: number;
  cents: number;
}

/** Reads every confirmation of `key`; resolves to the entries it no longer holds (null: unknown). */
async function readConfirmations(
  redis: Redis,
  key: string,
  into: {
    byTx: Map<string, Confirmed>;
    confirmed: number;
    cents: bigint;
    duplicates: number;
    rejected: number;
    unreadable: string[];
  },
): Promise<{ missing: number | null; deletedInside: boolean }> {
  let info: Record<string, unknown>;
  try {
    info = flatToRecord(await redis.xinfo("STREAM", key) as unknown[]);
  } catch (error) {
    // Deleted since SCAN found it: nothing to read.
    if (/no such key/i.test(String(error))) return { missing: 0, deletedInside: false };
    throw error;
  }
  let start = "-";
  for (;;) {
    const page = await redis.xrange(key, start, "+", "COUNT", 10_000);
    for (const [id, flat] of page) {
      const r = flatToRecord(flat);
      const tx = String(r.transaction_id ?? "");
      if (r.status === "duplicate") into.duplicates++;
      else if (r.status === "rejected") into.rejected++;
      if (r.status !== "confirmed") continue;
      const cents = parseAmountCents(String(r.processed_amount ?? ""));
      if (tx === "" || cents === undefined) {
        into.unreadable.push(`${key} ${id}`);
        continue;
      }
      into.confirmed++;
      into.cents += BigInt(cents);
      const seen = into.byTx.get(tx);
      if (seen) seen.count++;
      else into.byTx.set(tx, { count: 1, cents });
    }
    if (page.length < 10_000) break;
    start = `(${page[page.length - 1][0]}`;
  }
  if (info["entries-added"] === undefined) return { missing: null, deletedInside: false };
  const missing = Number(info["entries-added"]) - Number(info.length);
  const first = (info["first-entry"] as [string, unknown] | null)?.[0];
  const maxDeleted = String(info["max-deleted-entry-id"] ?? "0-0");
  // Trimming removes the oldest entries; a deletion at or after the first entry kept is a loss.
  const deletedInside = missing > 0 && first !== undefined && compareIds(maxDeleted, first) >= 0;
  return { missing, deletedInside };
}

const signed = (n: number | bigint) => (n > 0 ? `+${n}` : `${n}`);
const signedCents = (n: bigint) => (n > 0n ? `+${formatCents(n)}` : formatCents(n));

/** Reconciles counters, confirmations and (with `sql`) the ledger; see the module's doc. */
export async function reconcile(redis: Redis, options: ReconcileOptions): Promise<ReconcileReport> {
  const maxIds = options.maxIds ?? 20;
  const differences: Difference[] = [];
  const differ = (kind: DifferenceKind, message: string, ids: string[] = []) =>
    differences.push({
      kind,
      message,
      transactions: ids.length,
      transactionIds: ids.slice(0, maxIds),
    });

  const before = await readCounters(redis, options.stream, options.partitions);
  for (const problem of before.problems) differ("counters", problem);

  const streams = await confirmationStreams(redis, options.responsePrefix);
  const seen = {
    byTx: new Map<string, Confirmed>(),
    confirmed: 0,
    cents: 0n,
    duplicates: 0,
    rejected: 0,
    unreadable: [] as string[],
  };
  let missingEntries: number | null = 0;
  for (const key of streams) {
    const { missing, deletedInside } = await readConfirmations(redis, key, seen);
    missingEntries = missing === null || missingEntries === null ? null : missingEntries + missing;
    if (deletedInside) {
      differ(
        "confirmations_deleted",
        `${key} lost entries inside the range it keeps (deleted, not trimmed by its cap)`,
      );
    }
  }
  if (seen.unreadable.length > 0) {
    differ(
      "unreadable_confirmation",
      `${seen.unreadable.length} confirmed entries have no transaction id or an unreadable amount: ${
        seen.unreadable.slice(0, maxIds).join(", ")
      }`,
    );
  }
  const twice = [...seen.byTx].filter(([, c]) => c.count > 1).map(([tx]) => tx);
  if (twice.length > 0) differ("confirmed_twice", "confirmed more than once", twice);

  const complete = missingEntries === 0;
  const dCount = before.processedCount - seen.confirmed;
  const dCents = before.cents - seen.cents;
  if (complete ? dCount !== 0 || dCents !== 0n : dCount < 0 || dCents < 0n) {
    differ(
      "counters_vs_confirmations",
      `processed_count is ${before.processedCount} but ${seen.confirmed} payments are confirmed ` +
        `(${signed(dCount)}); total_amount_cents is ${before.cents} but ${seen.cents} are ` +
        `confirmed (${signedCents(dCents)})` +
        (complete ? "" : "; some confirmations were trimmed, so the counters may only be higher"),
    );
  }

  let ledger: ReconcileReport["ledger"];
  if (options.sql) {
    ledger = await compareLedger(
      options.sql,
      redis,
      options.stream,
      before,
      seen.byTx,
      complete,
      differ,
    );
  }

  const after = await readCounters(redis, options.stream, options.partitions);
  if (after.processedCount !== before.processedCount || after.cents !== before.cents) {
    differ(
      "busy",
      `the counters moved while reconciling (processed_count ${before.processedCount} → ` +
        `${after.processedCount}): stop the consumers, or wait until they are idle, and run again`,
    );
  }

  return {
    agree: differences.length === 0,
    counters: {
      processedCount: before.processedCount,
      totalAmountCents: String(before.cents),
      totalAmount: formatCents(before.cents),
    },
    confirmations: {
      streams,
      confirmed: seen.confirmed,
      confirmedAmount: formatCents(seen.cents),
      transactions: seen.byTx.size,
      duplicates: seen.duplicates,
      rejected: seen.rejected,
      missingEntries,
    },
    ledger,
    differences,
  };
}

/** Compares the ledger's `done` rows with the counters and the confirmations. */
async function compareLedger(
  sql: Sql,
  redis: Redis,
  stream: string,
  counters: Counters,
  confirmed: Map<string, Confirmed>,
  complete: boolean,
  differ: (kind: DifferenceKind, message: string, ids?: string[]) => void,
): Promise<NonNullable<ReconcileReport["ledger"]>> {
  const pendingRows = Number(await redis.get(ledgerBacklogKey(stream)) ?? 0);
  const pendingBatches = await redis.xlen(ledgerOutboxKey(stream));
  const [{ errors }] =
    await sql`SELECT count(*)::int AS errors FROM payments WHERE status = 'error'`;
  let done = 0;
  let cents = 0n;
  const inLedger = new Set<string>();
  const notConfirmed: string[] = [];
  const otherAmount: string[] = [];
  const rows =
    sql`SELECT transaction_id, amount::text AS amount FROM payments WHERE status = 'done'`;
  for await (const page of rows.cursor(10_000)) {
    for (const { transaction_id: tx, amount } of page) {
      const rowCents = parseAmountCents(amount ?? "") ?? 0;
      done++;
      cents += BigInt(rowCents);
      if (tx === null) continue;
      inLedger.add(tx);
      const c = confirmed.get(tx);
      if (!c && complete) notConfirmed.push(tx);
      if (c && c.cents !== rowCents) otherAmount.push(tx);
    }
  }
  const report = { done, doneAmount: formatCents(cents), errors, pendingRows, pendingBatches };
  if (pendingRows > 0 || pendingBatches > 0) {
    differ(
      "ledger_pending",
      `${pendingRows} ledger rows (${pendingBatches} batches) still wait in ${
        ledgerOutboxKey(stream)
      }: the ledger is behind, so it was not compared; run again once a consumer with POSTGRES_DSN ` +
        "has written them",
    );
    return report;
  }
  if (done !== counters.processedCount || cents !== counters.cents) {
    differ(
      "ledger_vs_counters",
      `the ledger has ${done} done payments (${formatCents(cents)}) but processed_count is ` +
        `${counters.processedCount} (${formatCents(counters.cents)}): ` +
        `${signed(done - counters.processedCount)} payments, ${
          signedCents(cents - counters.cents)
        }`,
    );
  }
  const missing = [...confirmed.keys()].filter((tx) => !inLedger.has(tx));
  if (missing.length > 0) {
    differ("missing_from_ledger", "confirmed, but no done row in the ledger", missing);
  }
  if (notConfirmed.length > 0) {
    differ("ledger_not_confirmed", "a done row in the ledger, but never confirmed", notConfirmed);
  }
  if (otherAmount.length > 0) {
    differ("ledger_amount", "the ledger's amount differs from the confirmed one", otherAmount);
  }
  return report;
}
