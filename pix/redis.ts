/**
 * Redis connections: ioredis with a capped exponential backoff, commands that wait through an
 * outage instead of failing, and one log line when Redis goes away and one when it is back.
 * @module
 */
import { Redis } from "ioredis";
import { UserError } from "./errors.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";

export { Redis };

/** Options of {@link createRedis}. */
export interface RedisOptions {
  /** `CLIENT SETNAME`, shown by `CLIENT LIST` and the monitor. */
  name?: string;
  /** Where outage lines go. */
  logger?: Logger;
  /** Fail commands during an outage instead of queueing them until Redis is back. */
  failFast?: boolean;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

/** Backoff between reconnection attempts: 50 ms doubling up to 2 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

/** Opens a connection (lazily: the first command connects). */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const log = options.logger ?? createLogger("redis");
  const redis = new Redis(url, {
    connectionName: options.name,
    lazyConnect: true,
    maxRetriesPerRequest: options.failFast ? 0 : null,
    enableOfflineQueue: !options.failFast,
    retryStrategy: reconnectDelayMs,
  });
  let down = false;
  redis.on("error", (error: Error) => {
    if (down) return;
    down = true;
    log.warn(
      `Redis unavailable at ${redactUrl(url)} (${errorMessage(error)}); retrying with backoff`,
    );
  });
  redis.on("ready", () => {
    if (!down) return;
    down = false;
    log.info(`Redis is back at ${redactUrl(url)}`);
  });
  return redis;
}

/** Sends PING with a deadline; resolves to false when Redis does not answer in time. */
export async function pingWithin(url: string, timeoutMs: number): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  probe.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await probe.connect();
    const answer = await Promise.race([
      probe.ping(),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("timeout"), timeoutMs)),
    ]);
    return answer === "PONG";
  } catch {
    return false;
  } finally {
    clearTimeout(timer); // a pending timer would keep short-lived commands alive
    probe.disconnect();
  }
}

/** Throws a one-line {@link UserError} when Redis at `url` does not answer within `timeoutMs`. */
export async function requireRedis(url: string, timeoutMs = 3000): Promise<void> {
  if (await pingWithin(url, timeoutMs)) return;
  throw new UserError(
    `Cannot reach Redis at ${redactUrl(url)}: start redis-server there or set REDIS_URL`,
  );
}
