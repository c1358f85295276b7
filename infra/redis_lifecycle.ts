/**
 * The life of a long-running Redis client: the checks at its start (Redis answers, accepts our
 * credentials, does not evict keys) and closing it at once (its commands in flight fail instead of
 * waiting for a Redis that does not answer).
 * @module
 */
import { Cluster, type Redis } from "ioredis";
import { UserError } from "@fastpix/pix";
import {
  createRedis,
  describeTarget,
  isCluster,
  parseHostPort,
  probeRedis,
  type RedisClient,
  redisConnectProblem,
  type RedisTarget,
  requireRedis,
} from "./redis.ts";
import { redactUrl } from "./redact.ts";
import { unhealableReason } from "./unhealable.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { backoffMs, sleep } from "./async.ts";

/** The ioredis internals {@link closeNow} reaches into. */
interface Internals {
  stream?: { destroy(): void };
  /** Commands in flight when the connection dropped, kept to be sent again once it is back. */
  prevCommandQueue?: { length: number; shift(): { command: { reject(e: Error): void } } } | null;
}

/**
 * Closes `client` now: stops reconnecting, fails every command in flight or queued with
 * "Connection is closed." and destroys the sockets (ioredis' `disconnect()` alone ends them
 * politely, which waits seconds for a Redis that is stopped, and leaves the commands that were in
 * flight when the connection last dropped waiting for ever, or for their command timeout).
 */
export function closeNow(client: RedisClient): void {
  const connections = client instanceof Cluster ? client.nodes() : [client];
  client.disconnect();
  for (const c of connections) {
    c.disconnect();
    const internals = c as unknown as Internals;
    internals.stream?.destroy();
    const resend = internals.prevCommandQueue;
    internals.prevCommandQueue = null;
    while (resend && resend.length > 0) {
      resend.shift().command.reject(new Error("Connection is closed."));
    }
  }
}

/**
 * Redis's `maxmemory-policy`: from INFO memory, which every role may run (CONFIG is often not
 * permitted: managed Redis, ACL users, and a refused command lands in the ACL LOG), else from
 * CONFIG GET; `undefined` when neither answers.
 */
export async function maxmemoryPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const policy = /^maxmemory_policy:(\S+)/m.exec(await redis.info("memory"))?.[1];
    if (policy) return policy;
  } catch { /* not permitted: CONFIG may be */ }
  try {
    const [, policy] = await redis.config("GET", "maxmemory-policy") as string[];
    return policy || undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link checkRedisAtStart}. */
export interface StartCheckOptions {
  /** Wait (with backoff) for a Redis that cannot be reached yet, instead of stopping. */
  waitForRedis?: boolean;
  /** Accept a Redis that may evict keys (warn once) instead of refusing it. */
  allowEviction?: boolean;
  /** Ends a wait for Redis: {@link checkRedisAtStart} then resolves to false. */
  signal?: AbortSignal;
  /** How long one attempt may take (default 3 s). */
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * What a consumer checks before it starts, with one line for whatever stops it (a
 * {@link UserError}):
 * - Redis refuses our credentials or permissions, the host does not resolve, its TLS certificate
 *   does not verify ({@link unhealableReason}): stop, with or without `waitForRedis`;
 * - Redis cannot be reached: stop with {@link requireRedis}'s line, the one every tool prints;
 *   with `waitForRedis`, say so once and wait until it can;
 * - Redis may evict keys (`maxmemory-policy` other than `noeviction`): idempotency marks could go
 *   and a payment be counted twice; stop, or warn once with `allowEviction`.
 * Every seed node of a cluster is checked. Resolves to true when Redis is fit, false when `signal`
 * ended the wait.
 */
export async function checkRedisAtStart(
  target: RedisTarget,
  options: StartCheckOptions = {},
): Promise<boolean> {
  const log = options.logger ?? createLogger("redis");
  const urls = isCluster(target)
    ? target.cluster!.map((node) => {
      const { host, port } = parseHostPort(node);
      return `redis://${host.includes(":") ? `[${host}]` : host}:${port}`;
    })
    : [target.url];
  const timeoutMs = options.timeoutMs ?? 3000;
  let waiting = false;
  for (let attempt = 1;; attempt++) {
    const failures = await Promise.all(urls.map((url) => probeRedis(url, timeoutMs)));
    const failed = failures.find((f) => f !== undefined);
    if (failed === undefined) {
      if (waiting) log.info(`Redis answers at ${describeTarget(target)}`);
      for (const url of urls) await checkEviction(url, options, log);
      return true;
    }
    const unusable = unusableRedis(target, failed);
    if (unusable !== undefined) throw unusable;
    if (!options.waitForRedis) await requireRedis(target, timeoutMs); // its line, if down
    if (!waiting && options.waitForRedis) {
      log.warn(
        `Redis unavailable at ${describeTarget(target)} (${errorMessage(failed)}); ` +
          "waiting for it (WAIT_FOR_REDIS)",
      );
      waiting = true;
    }
    await sleep(backoffMs(attempt), options.signal);
    if (options.signal?.aborted) return false;
  }
}

/**
 * The one-line error that stops a consumer when `error` is one no retry heals
 * ({@link unhealableReason}), worded as every tool words it (`requireRedis`): `Cannot use Redis at
 * <url>: <what to fix>`; `undefined` for any other error.
 */
export function unusableRedis(target: RedisTarget, error: unknown): UserError | undefined {
  const reason = unhealableReason(error);
  if (reason === undefined) return undefined;
  const advice = redisConnectProblem(error) ?? reason;
  return new UserError(`Cannot use Redis at ${describeTarget(target)}: ${advice}`);
}

async function checkEviction(url: string, options: StartCheckOptions, log: Logger): Promise<void> {
  const redis = createRedis(url, { name: "fastpix:start-check", failFast: true, logger: log });
  let policy: string | undefined;
  try {
    await redis.connect();
    policy = await maxmemoryPolicy(redis);
  } finally {
    closeNow(redis);
  }
  if (policy === "noeviction") return;
  const where = redactUrl(url);
  const what = policy === undefined
    ? `Cannot read maxmemory-policy of Redis at ${where} (CONFIG GET and INFO are not permitted)`
    : `Redis at ${where} has maxmemory-policy ${policy}: it may evict idempotency marks and count a payment twice`;
  if (!options.allowEviction) {
    throw new UserError(
      `${what}; set maxmemory-policy noeviction, or pass --allow-eviction (ALLOW_EVICTION=true) to run anyway`,
    );
  }
  log.warn(`${what}; running anyway (ALLOW_EVICTION)`);
}
