/**
 * Where the payment stream may be trimmed without losing anything: before the oldest entry any
 * group still needs (pending, or not yet delivered).
 * @module
 */
import type { RedisClient } from "@fastpix/infra";

/** Compares stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

/**
 * The smallest id some group still needs, to pass to `XTRIM MINID`; `undefined` when the stream
 * has no group (then nothing is ever trimmed: nobody has acknowledged anything).
 */
export async function safeTrimId(redis: RedisClient, stream: string): Promise<string | undefined> {
  const groups = await redis.xinfo("GROUPS", stream) as unknown[][];
  let safe: string | undefined;
  for (const raw of groups) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < raw.length; i += 2) info.set(String(raw[i]), raw[i + 1]);
    // Entries after last-delivered-id are not delivered yet; keep them (and it, harmlessly).
    let needed = String(info.get("last-delivered-id"));
    if (Number(info.get("pending")) > 0) {
      const summary = await redis.xpending(stream, String(info.get("name"))) as [number, string];
      if (summary[1] && compareIds(summary[1], needed) < 0) needed = summary[1];
    }
    if (safe === undefined || compareIds(needed, safe) < 0) safe = needed;
  }
  return safe;
}
