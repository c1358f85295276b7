/**
 * Redis connections: ioredis with a capped exponential backoff, commands that wait through an
 * outage instead of failing, and one log line when Redis goes away and one when it is back.
 * @module
 */
import { Cluster, Redis } from "ioredis";
import { UserError } from "@fastpix/pix";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { backoffMs } from "./async.ts";
import { unhealableReason } from "./unhealable.ts";

export { Cluster, Redis };

/** A connection to one Redis or to a Redis Cluster: what every tool talks to. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one server (`url`), or a cluster when `cluster` lists seed nodes. */
export interface RedisTarget {
  /** `REDIS_URL`: used when `cluster` is empty or absent. */
  url: string;
  /** `REDIS_CLUSTER`: seed nodes as `host:port`; any reachable one finds the rest. */
  cluster?: readonly string[];
}

/** Options of {@link createRedis}. */
export interface RedisOptions {
  /** `CLIENT SETNAME`, shown by `CLIENT LIST` and the monitor. */
  name?: string;
  /** Where outage lines go. */
  logger?: Logger;
  /** Fail commands during an outage instead of queueing them until Redis is back. */
  failFast?: boolean;
  /**
   * Watchdog: a command with no reply after this many ms fails with "Command timed out" (see
   * {@link isCommandTimeout}); long-lived loops then reconnect rather than hang on a silent socket.
   */
  commandTimeoutMs?: number;
  /**
   * Called, instead of logging an outage, when the connection fails in a way no retry heals
   * (refused credentials, a host that does not resolve: see {@link unhealableReason}).
   */
  onUnhealable?: (error: Error) => void;
}

/** Whether `error` is ioredis' watchdog firing (set with `commandTimeoutMs`). */
export function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === "Command timed out";
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

/** Opens a connection (lazily: the first command connects). */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const log = options.logger ?? createLogger("redis");
  const redis = new Redis(url, {
    connectionName: options.name,
    lazyConnect: true,
    maxRetriesPerRequest: options.failFast ? 0 : null,
    enableOfflineQueue: !options.failFast,
    retryStrategy: (attempt) => backoffMs(attempt),
    commandTimeout: options.commandTimeoutMs,
  });
  let down = false;
  redis.on("error", (error: Error) => {
    if (options.onUnhealable && unhealableReason(error) !== undefined) {
      return options.onUnhealable(error);
    }
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

/** Whether `target` names a cluster. */
export function isCluster(target: RedisTarget): boolean {
  return (target.cluster?.length ?? 0) > 0;
}

/** `host:port` → `{ host, port }`; throws on anything else. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^\[?([A-Za-z0-9_.:-]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new Error(`Cannot parse cluster node "${text}": expected host:port`);
  }
  return { host: match[1], port };
}

/** The target for logs: the URL without its password, or `cluster host:port,...`. */
export function describeTarget(target: RedisTarget): string {
  return isCluster(target) ? `cluster ${target.cluster!.join(",")}` : redactUrl(target.url);
}

/**
 * Opens a connection to `target` (lazily: the first command connects): {@link createRedis} for one
 * server, an ioredis `Cluster` for a cluster. The one factory every tool uses; a cluster client
 * follows MOVED redirections and failovers by itself, and logs outages like {@link createRedis}.
 */
export function createClient(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (!isCluster(target)) return createRedis(target.url, options);
  const log = options.logger ?? createLogger("redis");
  const where = describeTarget(target);
  const cluster = new Cluster(target.cluster!.map(parseHostPort), {
    lazyConnect: true,
    enableOfflineQueue: !options.failFast,
    clusterRetryStrategy: (times) => backoffMs(times),
    // During a failover commands are retried (and the slot map refreshed) for a while before
    // they fail; the caller's own retry loop takes it from there.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    maxRedirections: 32,
    slotsRefreshTimeout: 2000,
    redisOptions: { connectionName: options.name, commandTimeout: options.commandTimeoutMs },
  });
  let down = false;
  const onError = (error: Error) => {
    if (options.onUnhealable && unhealableReason(error) !== undefined) {
      return options.onUnhealable(error);
    }
    if (down) return;
    down = true;
    log.warn(`Redis unavailable at ${where} (${errorMessage(error)}); retrying with backoff`);
  };
  cluster.on("error", onError);
  cluster.on("node error", onError);
  cluster.on("ready", () => {
    if (!down) return;
    down = false;
    log.info(`Redis is back at ${where}`);
  });
  return cluster;
}

/** A connection that answered PING, or the error that stopped it. */
export type RedisProbe = { redis: Redis; error?: undefined } | { redis?: undefined; error: Error };

/**
 * Connects to `url` once (no retries, no offline queue) and sends PING, all within `timeoutMs`;
 * resolves to the open connection (close it) or to the error. The error is the real one: ioredis
 * reports a refused AUTH or a failed host lookup as an `error` event, and rejects `connect()` with
 * "Connection is closed.".
 */
export async function probeRedis(url: string, timeoutMs: number): Promise<RedisProbe> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  let reported: Error | undefined;
  redis.on("error", (error: Error) => reported ??= error);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect().then(() => redis.ping()), deadline]);
    return { redis };
  } catch (error) {
    redis.disconnect();
    return { error: reported ?? (error as Error) };
  } finally {
    clearTimeout(timer); // a pending timer would keep short-lived commands alive
  }
}

/** Sends PING with a deadline; resolves to false when Redis does not answer in time. */
export async function pingWithin(url: string, timeoutMs: number): Promise<boolean> {
  const { redis } = await probeRedis(url, timeoutMs);
  redis?.disconnect();
  return redis !== undefined;
}

/**
 * Throws a one-line {@link UserError} when Redis at `target` does not answer within `timeoutMs`
 * (a cluster: when none of its seed nodes answers).
 */
export async function requireRedis(
  target: string | RedisTarget,
  timeoutMs = 3000,
): Promise<void> {
  const t = typeof target === "string" ? { url: target } : target;
  if (!isCluster(t)) {
    if (await pingWithin(t.url, timeoutMs)) return;
    throw new UserError(
      `Cannot reach Redis at ${redactUrl(t.url)}: start redis-server there or set REDIS_URL`,
    );
  }
  for (const node of t.cluster!) {
    const { host, port } = parseHostPort(node);
    if (await pingWithin(`redis://${host}:${port}`, timeoutMs)) return;
  }
  throw new UserError(
    `Cannot reach any Redis Cluster node of ${t.cluster!.join(",")}: ` +
      "start the cluster (deno task cluster up) or fix REDIS_CLUSTER",
  );
}
