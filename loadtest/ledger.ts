/**
 * The crash run's per-payment ledger: what a killed consumer held at the moment it died, and, once
 * a replacement has drained the queue, which sent payments were lost, processed twice or recovered.
 * Built from Redis state and every confirmation, not from the counters alone (the counters are
 * only cross-checked).
 * @module
 */
import {
  fieldsToRecord,
  listProcessingKey,
  parseAmountCents,
  parseConfirmation,
  type PaymentMessage,
  PROCESSED_COUNT_KEY,
  sourceListKey,
  TOTAL_AMOUNT_CENTS_KEY,
} from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import type { DesignName } from "@fastpix/queue";
import { groupInfo } from "@fastpix/infra";

/** Key names the harness uses (the defaults of DESIGN.md). */
export const STREAM = "pix_payments";
export const GROUP = "pix_consumers";
export const SOURCE_LIST = sourceListKey(0);
export const RESPONSE_PREFIX = "backend_bacen_response_";

/** What the crash run found for one design. */
export interface CrashLedger {
  /** Payments sent. */
  sent: number;
  /** Payments the killed consumer held when it died; null when Redis keeps no record (plain list). */
  held: number | null;
  /** Sent payments never processed. */
  lost: number;
  /** Sent payments counted more than once. */
  processedTwice: number;
  /** Payments the killed consumer held that a replacement then processed exactly once. */
  recovered: number;
  /** `duplicate` confirmations (a redelivery caught by the idempotency mark, counted once). */
  duplicateConfirmations: number;
  /** processed_count and total_amount_cents agree with the ledger. */
  countersAgree: boolean;
  /** Where the per-payment facts came from. */
  source: "confirmations" | "consumer group";
}

/** Transaction ids of what consumer `name` holds right now (after it was killed). */
export async function heldBy(
  redis: Redis,
  design: DesignName,
  name: string,
): Promise<string[] | null> {
  if (design === "list") return null; // popped payloads exist only in the dead process
  if (design === "list-reliable") {
    const items = await redis.lrange(listProcessingKey(name), 0, -1);
    return items.map((raw) => String(JSON.parse(raw).transaction_id));
  }
  const rows = await redis.xpending(STREAM, GROUP, "-", "+", 1_000_000, name) as [string][];
  const ids = new Set(rows.map((r) => r[0]));
  return (await streamTransactions(redis)).filter(([id]) => ids.has(id)).map(([, tx]) => tx);
}

/** `[entry id, transaction_id]` of every entry of the payment stream. */
async function streamTransactions(redis: Redis): Promise<[string, string][]> {
  const entries = await redis.xrange(STREAM, "-", "+");
  return entries.map(([id, flat]) => [id, fieldsToRecord(flat).transaction_id ?? ""]);
}

/** Pending entries (all consumers) and entries not yet delivered, of the payment stream's group. */
export async function groupBacklog(redis: Redis): Promise<{ pending: number; lag: number }> {
  const info = await groupInfo(redis, STREAM, GROUP);
  if (info === undefined) return { pending: 0, lag: Number(await redis.xlen(STREAM)) };
  const lag = Number(info.lag); // nil (unknown) only after deletions, which the harness never does
  return { pending: Number(info.pending), lag: Number.isFinite(lag) ? lag : 0 };
}

async function counters(redis: Redis): Promise<{ count: number; cents: bigint }> {
  const [count, cents] = await redis.mget(PROCESSED_COUNT_KEY, TOTAL_AMOUNT_CENTS_KEY);
  return { count: Number(count ?? 0), cents: BigInt(cents ?? 0) };
}

const centsOf = (p: PaymentMessage) => BigInt(parseAmountCents(p.amount)!);

/** Builds the ledger once the queue is drained. `held` is what {@link heldBy} returned. */
export async function crashLedger(
  redis: Redis,
  design: DesignName,
  sent: readonly PaymentMessage[],
  held: string[] | null,
): Promise<CrashLedger> {
  const { count, cents } = await counters(redis);
  if (design === "basic") return await basicLedger(redis, sent, held, count, cents);
  const confirmed = new Map<string, number>();
  let duplicateConfirmations = 0;
  const backends = new Set(sent.map((p) => p.backend_id));
  for (const backend of backends) {
    for (const [, flat] of await redis.xrange(`${RESPONSE_PREFIX}${backend}`, "-", "+")) {
      const c = parseConfirmation(flat);
      if (c.status === "confirmed") {
        confirmed.set(c.transaction_id, (confirmed.get(c.transaction_id) ?? 0) + 1);
      } else if (c.status === "duplicate") duplicateConfirmations++;
    }
  }
  let lost = 0, processedTwice = 0, confirmations = 0, confirmedCents = 0n;
  for (const p of sent) {
    const n = confirmed.get(p.transaction_id) ?? 0;
    if (n === 0) lost++;
    if (n > 1) processedTwice++;
    confirmations += n;
    confirmedCents += centsOf(p) * BigInt(n);
  }
  const recovered = (held ?? []).filter((tx) => confirmed.get(tx) === 1).length;
  return {
    sent: sent.length,
    held: held === null ? null : held.length,
    lost,
    processedTwice,
    recovered,
    duplicateConfirmations,
    countersAgree: count === confirmations && cents === confirmedCents,
    source: "confirmations",
  };
}

/**
 * The basic design sends no confirmations: every sent entry is in the stream, so an entry is lost
 * while it stays pending or undelivered, and anything the counters hold beyond the delivered and
 * acknowledged entries was counted twice.
 */
async function basicLedger(
  redis: Redis,
  sent: readonly PaymentMessage[],
  held: string[] | null,
  count: number,
  cents: bigint,
): Promise<CrashLedger> {
  const { pending, lag } = await groupBacklog(redis);
  const stillPending = new Set(
    (await redis.xpending(STREAM, GROUP, "-", "+", 1_000_000) as [string][]).map((r) => r[0]),
  );
  const pendingTx = new Set(
    (await streamTransactions(redis)).filter(([id]) => stillPending.has(id)).map(([, tx]) => tx),
  );
  const lost = pending + lag;
  const processed = sent.length - lost;
  const sentCents = sent.reduce((s, p) => s + centsOf(p), 0n);
  return {
    sent: sent.length,
    held: held === null ? null : held.length,
    lost,
    processedTwice: Math.max(0, count - processed),
    recovered: (held ?? []).filter((tx) => !pendingTx.has(tx)).length,
    duplicateConfirmations: 0,
    countersAgree: lost === 0 ? count === sent.length && cents === sentCents : count === processed,
    source: "consumer group",
  };
}
