/**
 * No ghost consumers: a consumer group keeps every consumer name that ever read from it until it
 * is deleted, so restarts (new names) pile up dead members and monitors count them. A consumer
 * that leaves holding nothing removes itself; the live ones remove members idle longer than
 * `CONSUMER_GC_MS` that hold nothing. A consumer that holds entries is never removed (Redis 7.0
 * would drop its pending entries with it): those are reclaimed first, then it goes.
 * @module
 */
import { LuaScript } from "./lua_script.ts";
import type { RedisClient } from "./redis.ts";
import { flatToRecord } from "./streams.ts";

/** Default of `CONSUMER_GC_MS` / `--consumer-gc-ms`: one hour. */
export const CONSUMER_GC_MS = 3_600_000;

const forgetScript = LuaScript.fromFile(
  "forget_consumer",
  "./lua/forget_consumer.lua",
  import.meta.url,
);

/**
 * Removes `consumer` from `group` if it holds no pending entry and has been idle at least
 * `minIdleMs` (checked and done atomically). Resolves to `removed`, `kept` (it holds entries, or
 * was active since) or `absent` (not a member: a consumer is one once it was handed an entry).
 */
export async function forgetConsumer(
  redis: RedisClient,
  stream: string,
  group: string,
  consumer: string,
  minIdleMs = 0,
): Promise<"removed" | "kept" | "absent"> {
  const reply = await forgetScript.run(redis, [stream], [group, consumer, minIdleMs]);
  return reply === 1 ? "removed" : reply === 0 ? "kept" : "absent";
}

/**
 * Removes every member of `group` but `self` that holds nothing and has been idle at least
 * `idleMs`; resolves to their names.
 */
export async function forgetIdleConsumers(
  redis: RedisClient,
  stream: string,
  group: string,
  idleMs: number,
  self?: string,
): Promise<string[]> {
  const members = (await redis.xinfo("CONSUMERS", stream, group) as unknown[][]).map(flatToRecord);
  const forgotten: string[] = [];
  for (const m of members) {
    const name = String(m.name);
    if (name === self || Number(m.pending) > 0 || Number(m.idle) < idleMs) continue;
    if (await forgetConsumer(redis, stream, group, name, idleMs) === "removed") {
      forgotten.push(name);
    }
  }
  return forgotten;
}
