/**
 * The list FIFO design of the original (`pix_mvp.py`): producers LPUSH JSON payments onto
 * `source_list_<i>`, consumers BRPOP them. A batch's effects are applied atomically, but a popped
 * payload lives only in the consumer's memory until then: a consumer killed in between loses it.
 * That is the design, shown honestly; {@link ReliableListConsumer} is the classic answer.
 * @module
 */
import {
  CONSUMER_DEFAULTS,
  DataLossWatch,
  IDLE_STOP_MS,
  isBatchRefusal,
  pauseAfterRefusal,
  RefusalLog,
  Shutdown,
  type StopOutcome,
} from "@fastpix/consumer";
import {
  backoffMs,
  closeNow,
  createLogger,
  createRedis,
  errorMessage,
  type Logger,
  type Redis,
  sleep,
} from "@fastpix/infra";
import { dlqKey, type ListNaming, sourceListKey, type ValidationLimits } from "@fastpix/pix";
import { applyListBatch, buildListBatch } from "./list_batch.ts";

/** Settings of one list consumer; the commands fill them from flags and env vars. */
export interface ListConsumerOptions {
  redisUrl: string;
  /** Takes from queue `listIndex` (`LIST_INDEX`): `source_list_<listIndex>` by default. */
  listIndex: number;
  /** How the queues are named (`REDIS_LIST`, `USE_HASHTAG`); default `source_list_<i>`. */
  listNaming?: ListNaming;
  consumerName: string;
  responsePrefix: string;
  /** Payloads taken per read. */
  batchSize: number;
  /** How long one blocking read waits. */
  blockMs: number;
  /** Approximate cap of each confirmation stream (`RESPONSE_MAXLEN`). */
  responseMaxlen: number;
  /** How long a transaction id stays marked as processed, in seconds. */
  markTtlSeconds: number;
  /** Simulated settlement work per batch, in ms, between taking and applying it. */
  settleMs?: number;
  /** After a stop, how long the batch in hand may take before it is given up (`shutdown.ts`). */
  shutdownTimeoutMs?: number;
  limits: ValidationLimits;
  logger?: Logger;
}

/** Defaults shared with the stream consumer, so both designs do the same work per payment. */
export const LIST_CONSUMER_DEFAULTS = {
  listIndex: 0,
  batchSize: CONSUMER_DEFAULTS.batchSize,
  blockMs: CONSUMER_DEFAULTS.blockMs,
  responseMaxlen: CONSUMER_DEFAULTS.responseMaxlen,
  markTtlSeconds: CONSUMER_DEFAULTS.markTtlSeconds,
  limits: CONSUMER_DEFAULTS.limits,
} as const;

/** What a list consumer has done so far. */
export interface ListConsumerStats {
  read: number;
  confirmed: number;
  duplicates: number;
  rejected: number;
  /** Payloads the reaper took back before this consumer finished them (reliable). */
  skipped: number;
  /** Payloads returned to the queue from dead consumers, or found in its own processing list. */
  recovered: number;
  batches: number;
}

/** The loop both list designs share: take a batch, settle, apply it atomically, repeat. */
export abstract class ListConsumerBase {
  readonly stats: ListConsumerStats = {
    read: 0,
    confirmed: 0,
    duplicates: 0,
    rejected: 0,
    skipped: 0,
    recovered: 0,
    batches: 0,
  };
  readonly redis: Redis;
  protected readonly opts: ListConsumerOptions;
  protected readonly log: Logger;
  protected readonly life: Shutdown;
  readonly #dataLoss: DataLossWatch;
  #refusals: RefusalLog;

  constructor(options: ListConsumerOptions) {
    this.opts = options;
    this.log = options.logger ?? createLogger(`list consumer ${options.consumerName}`);
    this.#refusals = new RefusalLog(this.log);
    this.redis = createRedis(options.redisUrl, {
      name: options.consumerName,
      logger: this.log,
      onUnhealable: (error) => this.life.fail(error),
    });
    this.life = new Shutdown({ timeoutMs: options.shutdownTimeoutMs, close: () => this.close() });
    this.#dataLoss = new DataLossWatch({
      redis: this.redis,
      log: this.log,
      alsoLost: this.alsoLost,
    });
  }

  /** What a loss of Redis data takes besides counters, marks and queued payments. */
  protected get alsoLost(): string | undefined {
    return undefined;
  }

  /** Whether a stop was asked. */
  protected get stopping(): boolean {
    return this.life.stopping;
  }

  /** Closes every connection at once (the stop's bound passed). */
  protected close(): void {
    closeNow(this.redis);
  }

  /** The list this consumer takes from. */
  get source(): string {
    return sourceListKey(this.opts.listIndex, this.opts.listNaming);
  }

  /** Asks the loop to stop after the batch in hand (bounded: see `shutdown.ts`). */
  stop(): void {
    this.life.stop();
  }

  /** How the loop stopped (see {@link stop}). */
  get outcome(): StopOutcome {
    return this.life.outcome;
  }

  /** Takes the next batch, oldest first; empty when none came within `blockMs`. */
  protected abstract take(): Promise<string[]>;
  /** `plain` or `reliable`, as `apply_list_batch` knows them. */
  protected abstract readonly mode: "plain" | "reliable";
  /** Where taken payloads wait until applied (reliable only). */
  protected processingKey(): string | undefined {
    return undefined;
  }
  /** Called once before the loop. */
  protected async begin(): Promise<void> {}
  /** Called once after the loop. */
  protected async end(): Promise<void> {}

  /**
   * Runs until {@link stop}; a batch in hand is applied (retrying through outages) first, unless
   * the stop's bound passes (see `shutdown.ts`).
   */
  async run(): Promise<ListConsumerStats> {
    let held: string[] = [];
    let failures = 0;
    this.#dataLoss.start();
    await this.begin();
    while (!this.stopping || held.length > 0) {
      try {
        if (held.length === 0) {
          held = await this.take();
          if (held.length === 0) continue;
          this.life.setHeld(held.length);
          this.stats.read += held.length;
          if (this.opts.settleMs) await sleep(this.opts.settleMs);
        }
        await this.#apply(held);
        this.life.finished(held.length);
        held = [];
        this.life.setHeld(0);
        failures = 0;
      } catch (error) {
        this.life.failIfUnhealable(error);
        if (this.life.cutOff) break;
        const holding = held.length > 0 ? ` (holding ${held.length} payloads)` : "";
        this.log.warn(`batch failed: ${errorMessage(error)}; retrying${holding}`);
        failures++;
        // Stopping with a batch in hand: keep retrying it (the stop's bound ends the wait).
        await sleep(
          backoffMs(failures),
          held.length === 0 ? this.life.signal : this.life.cutSignal,
        );
      }
    }
    if (!this.life.cutOff) await this.end();
    this.#dataLoss.stop();
    this.life.end();
    this.close();
    this.life.throwIfFatal({ url: this.opts.redisUrl });
    return this.stats;
  }

  /**
   * Applies a batch. A refusal of the whole batch (a counter or the dead-letter stream of the wrong
   * type, Redis out of memory: see `batch_refusals.ts` in `@fastpix/consumer`) is logged once per
   * cause and the same batch retried after a pause, as long as it takes (as the run loop does with
   * a batch in hand): its payloads stay in hand (plain) or in the processing list (reliable).
   * Other failures go to the run loop.
   */
  async #apply(payloads: string[]): Promise<void> {
    const o = this.opts;
    const batch = buildListBatch(payloads, {
      ...o,
      mode: this.mode,
      source: this.source,
      processingKey: this.processingKey(),
    });
    let r: Awaited<ReturnType<typeof applyListBatch>>;
    for (;;) {
      try {
        this.life.setSent(true);
        r = await applyListBatch(this.redis, batch).finally(() => this.life.setSent(false));
        break;
      } catch (error) {
        if (!isBatchRefusal(error)) throw error;
        // Even when stopping: the run loop never lets go of a batch in hand either (until the
        // stop's bound cuts it off).
        await pauseAfterRefusal(this.#refusals.refused(error), () => this.life.cutOff);
      }
    }
    this.#refusals.applied();
    if (r.migration) this.log.warn(r.migration);
    const s = this.stats;
    s.confirmed += r.confirmed;
    s.duplicates += r.duplicates;
    s.rejected += r.rejected;
    s.skipped += r.skipped;
    s.batches++;
    if (r.rejected > 0) {
      this.log.warn(`dead-lettered ${r.rejected} payloads to ${dlqKey(this.source)}`);
    }
  }
}

/** The plain list consumer: BRPOP (then RPOP for the rest of the batch), no acknowledgement. */
export class ListConsumer extends ListConsumerBase {
  protected readonly mode = "plain";

  protected async take(): Promise<string[]> {
    const { batchSize, blockMs } = this.opts;
    const popped = await this.redis.rpop(this.source, batchSize);
    if (popped !== null && popped.length > 0) return popped;
    // Well within IDLE_STOP_MS: a stop cuts off a read still waiting then, and a BRPOP cut off
    // after Redis popped would lose what it popped.
    const first = await this.redis.brpop(this.source, Math.min(blockMs, IDLE_STOP_MS / 2) / 1000);
    if (first === null) return [];
    const more = batchSize > 1 ? await this.redis.rpop(this.source, batchSize - 1) : null;
    return [first[1], ...(more ?? [])];
  }
}
