/**
 * The reliable list design: BLMOVE each payload from `source_list_<i>` into the consumer's own
 * processing list, remove it from there in the same atomic call that applies its effects, and let
 * a reaper return the processing lists of dead consumers to the queue. Consumers prove they are
 * alive with a heartbeat key that expires; every consumer also reaps the others.
 * @module
 */
import { closeNow, createRedis, errorMessage, LuaScript, type Redis } from "@fastpix/infra";
import { LIST_CONSUMERS_KEY, listHeartbeatKey, listProcessingKey } from "@fastpix/pix";
import { ListConsumerBase, type ListConsumerOptions } from "./list_consumer.ts";

const takeBatchScript = LuaScript.fromFile("take_batch", "./lua/take_batch.lua", import.meta.url);
const reapScript = LuaScript.fromFile("reap_consumer", "./lua/reap_consumer.lua", import.meta.url);

/** Settings of a reliable list consumer. */
export interface ReliableListConsumerOptions extends ListConsumerOptions {
  /** A consumer whose heartbeat is older than this is dead (`IDLE_THRESHOLD_MS`). */
  heartbeatTtlMs: number;
}

/**
 * Returns the processing lists of every registered consumer whose heartbeat has expired (except
 * `self`) to their source lists. Resolves to the payloads returned per dead consumer.
 */
export async function reapDeadConsumers(
  redis: Redis,
  self?: string,
): Promise<Map<string, number>> {
  const registry = await redis.hgetall(LIST_CONSUMERS_KEY);
  const returned = new Map<string, number>();
  for (const [name, source] of Object.entries(registry)) {
    if (name === self) continue;
    const keys = [listHeartbeatKey(name), listProcessingKey(name), source, LIST_CONSUMERS_KEY];
    const n = await reapScript.run(redis, keys, [name]) as number;
    if (n >= 0) returned.set(name, n);
  }
  return returned;
}

/** A consumer of the reliable list design. */
export class ReliableListConsumer extends ListConsumerBase {
  protected readonly mode = "reliable";
  #opts: ReliableListConsumerOptions;
  /** Heartbeats and reaping go over their own connection: the main one blocks in BLMOVE. */
  #housekeeping: Redis;
  #timers: ReturnType<typeof setInterval>[] = [];
  #leftovers = true;

  constructor(options: ReliableListConsumerOptions) {
    super(options);
    this.#opts = options;
    this.#housekeeping = createRedis(options.redisUrl, {
      name: `${options.consumerName}:housekeeping`,
      logger: this.log,
      onUnhealable: (error) => this.life.fail(error),
    });
  }

  protected override get alsoLost(): string {
    return "the processing lists (payments taken, not yet applied) and the consumer registry";
  }

  protected override processingKey(): string {
    return listProcessingKey(this.opts.consumerName);
  }

  protected override async begin(): Promise<void> {
    const ttl = this.#opts.heartbeatTtlMs;
    await this.#heartbeat();
    this.#timers.push(setInterval(() => this.#heartbeat(), Math.max(10, Math.floor(ttl / 3))));
    this.#timers.push(setInterval(() => this.#reap(), Math.max(50, Math.floor(ttl / 2))));
    await this.#reap();
  }

  protected override close(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    closeNow(this.#housekeeping);
    super.close();
  }

  protected override async end(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    try {
      // Forget this consumer only when it holds nothing; otherwise the reaper returns the rest.
      if (await this.redis.llen(this.processingKey()) === 0) {
        await this.#housekeeping.multi()
          .hdel(LIST_CONSUMERS_KEY, this.opts.consumerName)
          .del(listHeartbeatKey(this.opts.consumerName))
          .exec();
      }
    } catch (error) {
      if (!this.life.cutOff) this.log.warn(`cannot unregister: ${errorMessage(error)}`);
    }
  }

  protected async take(): Promise<string[]> {
    const { batchSize, blockMs } = this.opts;
    const processing = this.processingKey();
    if (this.#leftovers) {
      // Payloads this consumer name held in an earlier life: finish them first, oldest first.
      const left = await this.redis.lrange(processing, 0, -1);
      this.#leftovers = false;
      if (left.length > 0) {
        this.stats.recovered += left.length;
        this.log.info(`found ${left.length} payloads from an earlier run in ${processing}`);
        return left.reverse();
      }
    }
    const moved = await takeBatchScript.run(this.redis, [this.source, processing], [batchSize]);
    if ((moved as string[]).length > 0) return moved as string[];
    const first = await this.redis.blmove(this.source, processing, "RIGHT", "LEFT", blockMs / 1000);
    if (first === null) return [];
    const more = batchSize > 1
      ? await takeBatchScript.run(this.redis, [this.source, processing], [batchSize - 1])
      : [];
    return [first, ...(more as string[])];
  }

  async #heartbeat(): Promise<void> {
    const name = this.opts.consumerName;
    try {
      await this.#housekeeping.multi()
        .hset(LIST_CONSUMERS_KEY, name, this.source)
        .set(listHeartbeatKey(name), Date.now(), "PX", this.#opts.heartbeatTtlMs)
        .exec();
    } catch (error) {
      // createRedis logs an outage and the next beat retries; refused credentials stop it all.
      this.life.failIfUnhealable(error);
    }
  }

  async #reap(): Promise<void> {
    if (this.stopping) return;
    try {
      for (const [name, n] of await reapDeadConsumers(this.#housekeeping, this.opts.consumerName)) {
        this.stats.recovered += n;
        this.log.info(`returned ${n} payloads held by dead consumer ${name} to its list`);
      }
    } catch (error) {
      if (this.life.failIfUnhealable(error) || this.life.cutOff) return;
      this.log.warn(`reaping failed: ${errorMessage(error)}; retrying later`);
    }
  }
}
