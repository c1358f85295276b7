/**
 * The life of a long-running Redis client: closing it at once (its commands in flight fail
 * instead of waiting for a Redis that does not answer).
 * @module
 */
import { Cluster } from "ioredis";
import type { RedisClient } from "./redis.ts";

/**
 * Closes `client` now: stops reconnecting, fails every command in flight or queued with
 * "Connection is closed." and destroys the sockets (ioredis' `disconnect()` alone ends them
 * politely, which waits seconds for a Redis that is stopped).
 */
export function closeNow(client: RedisClient): void {
  const connections = client instanceof Cluster ? client.nodes() : [client];
  client.disconnect();
  for (const c of connections) {
    c.disconnect();
    (c as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }
}
