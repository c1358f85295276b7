/**
 * The basic stream consumer of the original (`alternative_demos/pix_streams_mvp.py`): a member of
 * the consumer group that reads ONE entry per XREADGROUP, counts it, then XACKs it in a separate
 * call, sends no confirmations, and recovers entries stalled at other consumers with XPENDING +
 * XCLAIM. At-least-once: a consumer killed between counting and acknowledging has its entry
 * counted again by whoever claims it — unless the idempotency mark its count wrote (as every
 * design does) makes the repeat a duplicate. Kept simple on purpose, as the baseline the full
 * consumer is measured against; it validates like every design and dead-letters what is invalid,
 * and what conflicts with a payment already counted under its transaction id (1701).
 * @module
 */
import {
  backoffMs,
  closeNow,
  CONSUMER_GC_MS,
  createLogger,
  createRedis,
  ensureGroup,
  errorMessage,
  type Logger,
  LuaScript,
  type Redis,
  sleep,
} from "@fastpix/infra";
import {
  DEFAULT_LIMITS,
  dlqKey,
  DONE_MARK_PREFIX,
  paymentFingerprint,
  PROCESSED_COUNT_KEY,
  TOTAL_AMOUNT_CENTS_KEY,
  TOTAL_AMOUNT_KEY,
  validateEntry,
  type ValidationLimits,
} from "@fastpix/pix";
import type { RawEntry } from "./types.ts";
import { renewEveryMs, renewStreamLease, withLease } from "./lease.ts";
import { Shutdown, type StopOutcome } from "./shutdown.ts";
import { GroupMembership } from "./ghosts.ts";
import { DataLossWatch } from "./data_loss.ts";
import type { BatchReply } from "./batch_args.ts";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";
import { isBatchRefusal, pauseAfterRefusal, RefusalLog } from "./batch_refusals.ts";

const countPaymentScript = LuaScript.fromFile(
  "count_payment",
  "./lua/count_payment.lua",
  import.meta.url,
);

/** Settings of the basic consumer. */
export interface BasicConsumerOptions {
  redisUrl: string;
  stream: string;
  group: string;
  consumerName: string;
  /** Entries pending longer than this at any consumer are claimed (`IDLE_THRESHOLD_MS`). */
  idleThresholdMs: number;
  /** How long one XREADGROUP waits. */
  blockMs: number;
  /** Simulated settlement work per payment, in ms, between reading and counting it. */
  settleMs?: number;
  /** After a stop, how long the entry in hand may take before it is left pending (`shutdown.ts`). */
  shutdownTimeoutMs?: number;
  /** Members idle longer than this with nothing pending are removed (`CONSUMER_GC_MS`). */
  consumerGcMs?: number;
  /** How long a transaction id stays marked as counted, in seconds (default 7 days). */
  markTtlSeconds?: number;
  limits?: ValidationLimits;
  logger?: Logger;
}

/** What a basic consumer has done so far. */
export interface BasicConsumerStats {
  read: number;
  counted: number;
  /** Repeats of a payment already counted (same fingerprint): acknowledged, not counted. */
  duplicates: number;
  rejected: number;
  /** Entries claimed from stalled consumers. */
  claimed: number;
}

/** Entries claimed per XPENDING + XCLAIM round, as in the original. */
const CLAIM_PAGE = 10;

/** One basic consumer on its own connection. */
export class BasicStreamConsumer {
  readonly stats: BasicConsumerStats = {
    read: 0,
    counted: 0,
    duplicates: 0,
    rejected: 0,
    claimed: 0,
  };
  readonly redis: Redis;
  #opts: BasicConsumerOptions;
  #log: Logger;
  #life: Shutdown;
  #membership: GroupMembership;
  #dataLoss: DataLossWatch;
  #groupSeen = false;
  #nextRecoverAt = 0;
  #refusals: RefusalLog;

  constructor(options: BasicConsumerOptions) {
    this.#opts = options;
    this.#log = options.logger ?? createLogger(`basic consumer ${options.consumerName}`);
    this.#refusals = new RefusalLog(this.#log);
    this.redis = createRedis(options.redisUrl, {
      name: options.consumerName,
      logger: this.#log,
      onUnhealable: (error) => this.#life.fail(error),
    });
    this.#life = new Shutdown({
      timeoutMs: options.shutdownTimeoutMs,
      close: () => closeNow(this.redis),
    });
    this.#dataLoss = new DataLossWatch({
      redis: this.redis,
      log: this.#log,
      alsoLost: `the consumer group ${options.group} on ${options.stream} (and what it held)`,
    });
    this.#membership = new GroupMembership(
      this.redis,
      options,
      options.consumerGcMs ?? CONSUMER_GC_MS,
      this.#log,
    );
  }

  /** Asks the loop to stop after the entry in hand (bounded: see `shutdown.ts`). */
  stop(): void {
    this.#life.stop();
  }

  /** How the loop stopped (see {@link stop}). */
  get outcome(): StopOutcome {
    return this.#life.outcome;
  }

  /** Runs until {@link stop}: one entry at a time, recovering stalled entries now and then. */
  async run(): Promise<BasicConsumerStats> {
    const o = this.#opts;
    let failures = 0;
    let groupReady = false;
    this.#dataLoss.start();
    while (!this.#life.stopping) {
      try {
        if (!groupReady) groupReady = await this.#ensureGroup();
        const reply = await this.redis.xreadgroup(
          "GROUP",
          o.group,
          o.consumerName,
          "COUNT",
          1,
          "BLOCK",
          o.blockMs,
          "STREAMS",
          o.stream,
          ">",
        ) as [string, RawEntry[]][] | null; // deno-fmt-ignore
        const entry = reply?.[0]?.[1]?.[0];
        if (entry?.[1]) await this.#handle(entry[0], entry[1], 1);
        // The original reviews pending entries when idle; a busy consumer does it on a timer too.
        if (entry === undefined || Date.now() >= this.#nextRecoverAt) await this.#recover();
        await this.#membership.collect();
        failures = 0;
      } catch (error) {
        this.#life.failIfUnhealable(error);
        if (this.#life.cutOff) break;
        if (error instanceof Error && error.message.startsWith("NOGROUP")) groupReady = false;
        else this.#log.warn(`read failed: ${errorMessage(error)}; retrying (entries stay pending)`);
        failures++;
        await sleep(backoffMs(failures), this.#life.signal);
      }
    }
    if (!this.#life.cutOff) await this.#membership.leave();
    this.#dataLoss.stop();
    this.#life.end();
    this.redis.disconnect();
    this.#life.throwIfFatal({ url: this.#opts.redisUrl });
    return this.stats;
  }

  /** Creates the group if missing; created again, it means Redis lost its data (said once). */
  async #ensureGroup(): Promise<boolean> {
    const o = this.#opts;
    const created = await ensureGroup(this.redis, o.stream, o.group);
    if (created && this.#groupSeen) this.#dataLoss.lost(`group ${o.group} vanished`);
    this.#groupSeen = true;
    return true;
  }

  /**
   * Counts (or dead-letters) one entry, then acknowledges it: two separate calls. A refusal of the
   * count (a counter or the dead-letter stream unusable, Redis out of memory) leaves the entry
   * pending, to be claimed again later; it is logged once per cause. While the entry is in hand
   * longer than a third of the idle threshold, the claim on it is renewed (`lease.ts`), so no
   * other consumer takes it from this live one.
   */
  async #handle(id: string, flat: string[], deliveries: number): Promise<void> {
    const o = this.#opts;
    await this.#life.hold(1, () =>
      withLease(
        renewEveryMs(o.idleThresholdMs),
        () => renewStreamLease(this.redis, o.stream, o.group, o.consumerName, [id]),
        () => this.#count(id, flat, deliveries),
      ));
  }

  async #count(id: string, flat: string[], deliveries: number): Promise<void> {
    const o = this.#opts;
    this.stats.read++;
    const result = validateEntry(flat, { limits: o.limits ?? DEFAULT_LIMITS });
    if (o.settleMs) await sleep(o.settleMs);
    if (result.ok) {
      const p = result.payment;
      const dlq = dlqKey(o.stream);
      const mark = DONE_MARK_PREFIX + p.transactionId;
      const keys = [
        dlq,
        PROCESSED_COUNT_KEY,
        TOTAL_AMOUNT_KEY,
        TOTAL_AMOUNT_CENTS_KEY,
        mark,
        o.stream,
      ];
      const args = [
        DONE_MARK_PREFIX,
        o.markTtlSeconds ?? CONSUMER_DEFAULTS.markTtlSeconds,
        "",
        new Date().toISOString(),
        o.consumerName,
        id,
        p.transactionId,
        p.amountCents,
        paymentFingerprint(p),
        deliveries,
      ];
      let reply: [...BatchReply, string];
      try {
        reply = await countPaymentScript.run(this.redis, keys, args) as [...BatchReply, string];
      } catch (error) {
        if (!isBatchRefusal(error)) throw error;
        await pauseAfterRefusal(this.#refusals.refused(error), () => this.#life.stopping);
        return;
      }
      this.#refusals.applied();
      const [counted, duplicates, rejected, , , migration, rejection] = reply;
      if (migration) this.#log.warn(migration);
      this.stats.counted += counted;
      this.stats.duplicates += duplicates;
      this.stats.rejected += rejected;
      if (rejected > 0) this.#log.warn(`dead-lettered ${id}: ${rejection}`);
    } else {
      await this.redis.xadd(
        dlqKey(o.stream),
        "*",
        "original_id",
        id,
        "fields",
        JSON.stringify(result.fields),
        "error_code",
        result.rejection.code,
        "reason",
        result.rejection.message,
        "deliveries",
        deliveries,
        "consumer",
        o.consumerName,
        "failed_at",
        new Date().toISOString(),
      ); // deno-fmt-ignore
      this.stats.rejected++;
      this.#log.warn(`dead-lettered ${id}: ${result.rejection.message}`);
    }
    await this.redis.xack(o.stream, o.group, id);
  }

  /** XPENDING (idle past the threshold, any consumer) + XCLAIM, a page at a time. */
  async #recover(): Promise<void> {
    const o = this.#opts;
    this.#nextRecoverAt = Date.now() + Math.max(100, Math.floor(o.idleThresholdMs / 2));
    for (let round = 0; round < 100 && !this.#life.stopping; round++) {
      const rows = await this.redis.xpending(
        o.stream,
        o.group,
        "IDLE",
        o.idleThresholdMs,
        "-",
        "+",
        CLAIM_PAGE,
      ) as [id: string, consumer: string, idleMs: number, deliveries: number][]; // deno-fmt-ignore
      if (rows.length === 0) return;
      const deliveries = new Map(rows.map(([id, , , n]) => [id, n + 1]));
      const claimed = await this.redis.xclaim(
        o.stream,
        o.group,
        o.consumerName,
        o.idleThresholdMs,
        ...rows.map((r) => r[0]),
      ) as RawEntry[]; // deno-fmt-ignore
      for (const [id, flat] of claimed) {
        if (flat === null) {
          await this.redis.xack(o.stream, o.group, id); // deleted from the stream meanwhile
          continue;
        }
        this.stats.claimed++;
        this.#log.info(`claimed stalled entry ${id}`);
        await this.#handle(id, flat, deliveries.get(id) ?? 1);
      }
      if (rows.length < CLAIM_PAGE) return;
    }
  }
}
