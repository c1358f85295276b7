/**
 * Lease renewal: a consumer that holds a batch longer than a fraction of `IDLE_THRESHOLD_MS` (slow
 * settlement, a ledger pause) renews its claim on it, so the others, which reclaim what has been
 * idle past the threshold, never take work from a consumer that is alive. A consumer that dies
 * stops renewing, and its batch is reclaimed after the threshold as before.
 * @module
 */
import { compareIds, type RedisClient } from "@fastpix/infra";

/** How often a holder renews: a third of the threshold, so two renewals may be late. */
export function renewEveryMs(idleThresholdMs: number): number {
  return Math.max(10, Math.floor(idleThresholdMs / 3));
}

/**
 * Runs `work`, calling `renew` every `everyMs` until it settles (the first call after `everyMs`:
 * short batches cost nothing). A renewal that fails is not retried at once: the next tick tries
 * again; renewals never overlap.
 */
export async function withLease<T>(
  everyMs: number,
  renew: () => Promise<unknown>,
  work: () => Promise<T>,
): Promise<T> {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    renew().catch(() => {}).finally(() => busy = false);
  }, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Entries per XPENDING page when renewing. */
const PAGE = 1000;

/**
 * Resets the idle time of those of `ids` that `consumer` still holds in `group`
 * (`XCLAIM <stream> <group> <consumer> 0 <ids...> JUSTID`: no delivery is counted). Entries another
 * consumer took meanwhile (after a stall longer than the threshold) are left to it. Resolves to
 * how many were renewed.
 */
export async function renewStreamLease(
  redis: RedisClient,
  stream: string,
  group: string,
  consumer: string,
  ids: readonly string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const wanted = new Set(ids);
  const sorted = [...ids].sort(compareIds);
  const last = sorted[sorted.length - 1];
  const mine: string[] = [];
  let start = sorted[0];
  for (;;) {
    const rows = await redis.xpending(stream, group, start, last, PAGE, consumer) as [
      string,
      ...unknown[],
    ][];
    for (const [id] of rows) if (wanted.has(id)) mine.push(id);
    if (rows.length < PAGE) break;
    start = `(${rows[rows.length - 1][0]}`;
  }
  if (mine.length === 0) return 0;
  const claimed = await redis.xclaim(stream, group, consumer, 0, ...mine, "JUSTID") as string[];
  return claimed.length;
}
