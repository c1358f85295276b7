/**
 * A consumer's start: the checks of `checkRedisAtStart` (Redis answers, accepts our credentials,
 * does not evict keys), with SIGINT/SIGTERM ending a wait for Redis.
 * @module
 */
import { stopOnSignals } from "@fastpix/cli";
import { checkRedisAtStart, type Logger, type RedisTarget } from "@fastpix/infra";

/** The start flags every consumer command takes. */
export interface StartFlags {
  /** `--wait-for-redis` / `WAIT_FOR_REDIS`. */
  waitForRedis: boolean;
  /** `--allow-eviction` / `ALLOW_EVICTION`. */
  allowEviction: boolean;
}

/**
 * Resolves to true when Redis at `target` is fit to consume from; false when a signal ended the
 * wait for it (`--wait-for-redis`). Throws a one-line `UserError` for whatever refuses the start.
 */
export async function redisReadyForConsumer(
  target: RedisTarget,
  flags: StartFlags,
  log: Logger,
): Promise<boolean> {
  const wait = new AbortController();
  const remove = stopOnSignals(() => wait.abort(), log, "stopping: no longer waiting for Redis");
  try {
    const ready = await checkRedisAtStart(target, { ...flags, signal: wait.signal, logger: log });
    if (!ready) log.info("stopped before Redis could be reached");
    return ready;
  } finally {
    remove();
  }
}
