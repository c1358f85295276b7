/**
 * Stream helpers every design and tool shares: group creation, group facts, id arithmetic, and
 * where a stream may be trimmed without losing anything (before the oldest entry any group still
 * needs: pending, or not yet delivered).
 * @module
 */
import type { RedisClient } from "./redis.ts";

/** Milliseconds part of a stream id: when the entry was added. */
export function idTimeMs(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}

/**
 * Creates `group` on `stream` (and the stream) reading from the start; an existing group is fine.
 * Resolves to whether it was created.
 */
export async function ensureGroup(
  redis: RedisClient,
  stream: string,
  group: string,
): Promise<boolean> {
  try {
    await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM");
    return true;
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("BUSYGROUP")) throw error;
    return false;
  }
}

/** Every group of `stream` as XINFO GROUPS describes it, one record each (none: no stream). */
export async function groupsOf(
  redis: RedisClient,
  stream: string,
): Promise<Record<string, unknown>[]> {
  let groups: unknown[][];
  try {
    groups = await redis.xinfo("GROUPS", stream) as unknown[][];
  } catch (error) {
    if (/no such key/i.test(String(error))) return [];
    throw error;
  }
  return groups.map(flatToRecord);
}

/** `group`'s XINFO GROUPS record (`undefined`: no such group or stream). */
export async function groupInfo(
  redis: RedisClient,
  stream: string,
  group: string,
): Promise<Record<string, unknown> | undefined> {
  return (await groupsOf(redis, stream)).find((g) => g.name === group);
}

/** A flat `[name, value, ...]` reply as a record. */
export function flatToRecord(flat: readonly unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}

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
  let safe: string | undefined;
  for (const info of await groupsOf(redis, stream)) {
    // Entries after last-delivered-id are not delivered yet; keep them (and it, harmlessly).
    let needed = String(info["last-delivered-id"]);
    if (Number(info.pending) > 0) {
      const summary = await redis.xpending(stream, String(info.name)) as [number, string];
      if (summary[1] && compareIds(summary[1], needed) < 0) needed = summary[1];
    }
    if (safe === undefined || compareIds(needed, safe) < 0) safe = needed;
  }
  return safe;
}
