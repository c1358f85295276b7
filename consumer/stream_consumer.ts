/**
 * The production design: a consumer in a Redis Streams consumer group that validates each payment,
 * then applies confirmations, counters, idempotency marks, dead letters and XACK in one Lua call
 * per batch (effectively-once), reclaims stalled entries with XAUTOCLAIM, trims what every group
 * has acknowledged, and rides out Redis outages.
 * @module
 */
import {
  BACKEND_ID_PATTERN,
  DEFAULT_LIMITS,
  ErrorCode,
  formatCents,
  LATENCY_KEY,
  paymentFingerprint,
  responseStreamKey,
  type StreamKeys,
  streamKeys,
  validateEntry,
  type ValidationLimits,
} from "@fastpix/pix";
import {
  backoffMs,
  closeNow,
  CONSUMER_GC_MS,
  createClient,
  createLatencyHistogram,
  createLogger,
  ensureGroup,
  errorMessage,
  idTimeMs,
  isCommandTimeout,
  type Logger,
  recordMs,
  type RedisClient,
  safeTrimId,
  sleep,
  summarize,
  WindowedHistogram,
} from "@fastpix/infra";
import type { BatchHooks, BatchInfo } from "./batch_hooks.ts";
import type { RawEntry } from "./types.ts";
import { renewEveryMs, renewStreamLease, withLease } from "./lease.ts";
import { Shutdown, type StopOutcome } from "./shutdown.ts";
import { GroupMembership } from "./ghosts.ts";
import { DataLossWatch } from "./data_loss.ts";
import {
  type Batch,
  type BatchEntry,
  type BatchReply,
  encodeBatchArgs,
  processBatchScript,
  ResponseStreams,
} from "./batch_args.ts";
import {
  isBatchRefusal,
  isScriptBug,
  pauseAfterRefusal,
  RefusalLog,
  undoDeliveries,
} from "./batch_refusals.ts";

/** Settings of one consumer loop; the command fills them from flags and env vars. */
export interface StreamConsumerOptions {
  redisUrl: string;
  /** `REDIS_CLUSTER` seed nodes: when set, a Redis Cluster client instead of `redisUrl`. */
  redisCluster?: readonly string[];
  /** Base payment stream (`REDIS_STREAM`). */
  stream: string;
  /**
   * Hash tag of the partition this loop consumes (`partitionTags` in `@fastpix/pix`): it then reads
   * `<stream>:{tag}` and uses that partition's keys. Unset: the single-stream layout.
   */
  partition?: string;
  group: string;
  consumerName: string;
  responsePrefix: string;
  /** Entries idle longer than this are reclaimed from their consumer (`IDLE_THRESHOLD_MS`). */
  idleThresholdMs: number;
  /** An entry delivered more times than this is dead-lettered (`MAX_DELIVERIES`). */
  maxDeliveries: number;
  /** Trim acknowledged entries once the stream is longer than this (`STREAM_MAXLEN`). */
  streamMaxlen: number;
  /** Approximate cap of each confirmation stream (`RESPONSE_MAXLEN`). */
  responseMaxlen: number;
  /** Entries per XREADGROUP. */
  batchSize: number;
  /** How long one XREADGROUP waits for new entries. */
  blockMs: number;
  /** How long a transaction id stays marked as processed, in seconds. */
  markTtlSeconds: number;
  /** Simulated settlement work per batch, in ms, between validation and the atomic apply. */
  settleMs?: number;
  /** Watchdog: reconnect when a command has no reply for this long (default `blockMs` + 15 s). */
  commandTimeoutMs?: number;
  /** After a stop, how long the batch in hand may take before it is left pending (`shutdown.ts`). */
  shutdownTimeoutMs?: number;
  /** Members idle longer than this with nothing pending are removed (`CONSUMER_GC_MS`). */
  consumerGcMs?: number;
  /** Processing steps, last errors and the ledger around each batch (none: the plain path). */
  hooks?: BatchHooks;
  limits: ValidationLimits;
  logger?: Logger;
}

/** Defaults for everything but the connection and names. */
export const CONSUMER_DEFAULTS = {
  idleThresholdMs: 5000,
  maxDeliveries: 5,
  streamMaxlen: 1_000_000,
  responseMaxlen: 100_000,
  batchSize: 500,
  blockMs: 500,
  markTtlSeconds: 7 * 24 * 3600,
  limits: DEFAULT_LIMITS,
} as const;

/** What a consumer has done so far. */
export interface ConsumerStats {
  read: number;
  confirmed: number;
  duplicates: number;
  rejected: number;
  /** Entries another consumer (or an earlier try) had already handled. */
  skipped: number;
  /** Entries taken over from stalled consumers with XAUTOCLAIM. */
  reclaimed: number;
  /** Pending entries whose stream entry was deleted (Redis 7 reports them). */
  deleted: number;
  batches: number;
}

/** Stats with every count at zero. */
export function emptyStats(): ConsumerStats {
  return {
    read: 0,
    confirmed: 0,
    duplicates: 0,
    rejected: 0,
    skipped: 0,
    reclaimed: 0,
    deleted: 0,
    batches: 0,
  };
}

export type { RawEntry };

function isNoGroup(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOGROUP");
}

/** What {@link buildBatch} needs to know. */
export type BatchContext =
  & Pick<
    StreamConsumerOptions,
    | "stream"
    | "group"
    | "consumerName"
    | "responsePrefix"
    | "maxDeliveries"
    | "responseMaxlen"
    | "markTtlSeconds"
    | "limits"
  >
  & {
    deliveries?: Map<string, number>;
    nowMs?: number;
    /** The partition's keys; default: the single-stream keys of `stream`. */
    keys?: StreamKeys;
    /** Last processing errors by entry id, added to the reason of entries past the limit. */
    lastErrors?: Map<string, string>;
  };

/**
 * Validates entries and lays out the `process_batch` call that applies them (pure: no I/O).
 * Entries delivered more than `maxDeliveries` times are rejected like invalid ones.
 */
export function buildBatch(entries: readonly RawEntry[], ctx: BatchContext): Batch {
  const k = ctx.keys ?? streamKeys(ctx.stream);
  const responses = new ResponseStreams((backendId) =>
    responseStreamKey(ctx.responsePrefix, backendId, k.tag)
  );
  // Partitioned: the marks the script will touch are declared too, so Redis Cluster vets every key
  // before the script runs (one slot, served here, not mid-migration) instead of failing halfway.
  const markKeys: string[] = [];
  const nowMs = ctx.nowMs ?? Date.now();
  const items: BatchEntry[] = [];
  for (const [id, flat] of entries) {
    if (flat === null) {
      items.push({ kind: "gone", id });
      continue;
    }
    const count = ctx.deliveries?.get(id) ?? 1;
    const result = validateEntry(flat, { limits: ctx.limits, nowMs });
    const fields = result.fields;
    const rejection = !result.ok ? result.rejection : count > ctx.maxDeliveries
      ? {
        code: ErrorCode.MAX_DELIVERIES_EXCEEDED,
        message: `Delivered ${count} times; the limit is ${ctx.maxDeliveries}` +
          (ctx.lastErrors?.has(id) ? `; last error: ${ctx.lastErrors.get(id)}` : ""),
      }
      : undefined;
    if (result.ok && rejection === undefined) {
      const p = result.payment;
      if (k.tag !== undefined) markKeys.push(k.markPrefix + p.transactionId);
      items.push({
        kind: "ok",
        id,
        tx: p.transactionId,
        backend: p.backendId,
        responseIndex: responses.positionOf(p.backendId),
        cents: p.amountCents,
        amount: formatCents(p.amountCents),
        fingerprint: paymentFingerprint(p),
        deliveries: count,
      });
    } else {
      // A rejected message may have a bad backend_id: it then gets no confirmation stream.
      const backendOk = BACKEND_ID_PATTERN.test(fields.backend_id ?? "");
      const backend = backendOk ? fields.backend_id : "";
      items.push({
        kind: "reject",
        id,
        tx: fields.transaction_id ?? "",
        backend,
        responseIndex: backendOk ? responses.positionOf(backend) : 0,
        deliveries: count,
        errorCode: rejection!.code,
        reason: rejection!.message,
        fieldsJson: JSON.stringify(fields),
      });
    }
  }
  const header = {
    group: ctx.group,
    markPrefix: k.markPrefix,
    markTtlSeconds: ctx.markTtlSeconds,
    responseMaxlen: ctx.responseMaxlen,
    timestamp: new Date(nowMs).toISOString(),
    consumerName: ctx.consumerName,
  };
  const keys = [
    k.stream,
    k.dlq,
    k.processedCount,
    k.totalAmount,
    k.totalAmountCents,
    ...responses.keys,
    ...markKeys,
  ]; // deno-fmt-ignore
  return { keys, args: encodeBatchArgs(header, items) };
}

/**
 * Applies a batch atomically; resolves to the script's {@link BatchReply} (`[confirmed, duplicates,
 * rejected, skipped, totalCents, migration]`). Applying the same batch again changes nothing: its
 * entries are no longer pending (skipped).
 */
export async function applyBatch(redis: RedisClient, batch: Batch): Promise<BatchReply> {
  return await processBatchScript.run(redis, batch.keys, batch.args) as BatchReply;
}

/** Applying a batch failed as a whole (not one of its entries): see `batch_refusals.ts`. */
class BatchFailed extends Error {
  constructor(readonly entries: readonly RawEntry[], override readonly cause: unknown) {
    super(errorMessage(cause));
  }
}

/** Runs `step`, turning what it throws into a {@link BatchFailed} of `entries`. */
async function batchStep<T>(entries: readonly RawEntry[], step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new BatchFailed(entries, error);
  }
}

/** One consumer of the group, on its own connection. */
export class StreamConsumer {
  readonly stats: ConsumerStats = emptyStats();
  readonly redis: RedisClient;
  #opts: StreamConsumerOptions;
  #keys: StreamKeys;
  #log: Logger;
  #life: Shutdown;
  #membership: GroupMembership;
  #dataLoss: DataLossWatch;
  #groupSeen = false;
  #latency = createLatencyHistogram();
  #latencyWindow = new WindowedHistogram();
  #refusals: RefusalLog;
  #nextReclaimAt = 0;
  #nextTrimAt = 0;
  #nextLatencyAt = 0;

  constructor(options: StreamConsumerOptions) {
    // From here on `stream` is the partition's own stream (the base name when unpartitioned).
    this.#keys = streamKeys(options.stream, options.partition);
    this.#opts = { ...options, stream: this.#keys.stream };
    this.#log = options.logger ?? createLogger(`consumer ${options.consumerName}`);
    this.#refusals = new RefusalLog(this.#log);
    this.redis = createClient(
      { url: options.redisUrl, cluster: options.redisCluster },
      // No reply for this long (well past a blocking read's wait) means a silent socket: reconnect.
      {
        name: options.consumerName,
        logger: this.#log,
        commandTimeoutMs: options.commandTimeoutMs ?? options.blockMs + 15_000,
        onUnhealable: (error) => this.#life.fail(error),
      },
    );
    this.#life = new Shutdown({
      timeoutMs: options.shutdownTimeoutMs,
      close: () => closeNow(this.redis),
    });
    this.#dataLoss = new DataLossWatch({
      redis: this.redis,
      log: this.#log,
      alsoLost: `the consumer group ${options.group} on ${this.#keys.stream} (and what it held)`,
      countersKey: this.#keys.processedCount,
      ledger: true,
    });
    this.#membership = new GroupMembership(
      this.redis,
      this.#opts,
      options.consumerGcMs ?? CONSUMER_GC_MS,
      this.#log,
    );
  }

  /**
   * Asks the loop to stop after the batch in hand (bounded: see `shutdown.ts`); {@link run} then
   * resolves.
   */
  stop(): void {
    this.#life.stop();
  }

  /** How the loop stopped (see {@link stop}). */
  get outcome(): StopOutcome {
    return this.#life.outcome;
  }

  /**
   * Creates the group (and the stream) if missing; an existing group is fine. A group that has to
   * be created again under a running consumer means Redis lost its data: said once, in one line.
   */
  async ensureGroup(): Promise<void> {
    const created = await ensureGroup(this.redis, this.#opts.stream, this.#opts.group);
    if (created && this.#groupSeen) this.#dataLoss.lost(`group ${this.#opts.group} vanished`);
    else if (created) this.#log.info(`created group ${this.#opts.group} on ${this.#opts.stream}`);
    this.#groupSeen = true;
  }

  /** Runs until {@link stop}: own pending entries first, then new ones, reclaiming and trimming as it goes. */
  async run(): Promise<ConsumerStats> {
    let failures = 0;
    // "0" re-reads what this consumer name holds from an earlier life; ">" reads new entries.
    let cursor: string | undefined = "0";
    this.#dataLoss.start();
    while (!this.#life.stopping) {
      try {
        if (failures > 0 || cursor === "0") await this.ensureGroup();
        await this.#housekeeping();
        if (this.#life.stopping) break;
        cursor = await this.#readOnce(cursor);
        failures = 0;
      } catch (error) {
        this.#life.failIfUnhealable(error);
        if (this.#life.cutOff) break;
        if (isCommandTimeout(error)) {
          this.#log.warn(
            "no reply from Redis in time; reconnecting (entries in hand stay pending)",
          );
          this.redis.disconnect(true);
        } else if (isNoGroup(error)) {
          this.#log.debug(`group ${this.#opts.group} is missing; creating it again`);
        } else {
          this.#log.warn(`batch failed: ${errorMessage(error)}; retrying (entries stay pending)`);
        }
        failures++;
        await sleep(backoffMs(failures), this.#life.signal);
      }
    }
    if (!this.#life.cutOff) {
      await this.#publishLatency(true).catch(() => {});
      await this.#membership.leave();
    }
    this.#dataLoss.stop();
    this.#life.end();
    this.redis.disconnect();
    this.#life.throwIfFatal({ url: this.#opts.redisUrl, cluster: this.#opts.redisCluster });
    return this.stats;
  }

  async #readOnce(cursor: string | undefined): Promise<string | undefined> {
    const o = this.#opts;
    const id = cursor ?? ">";
    const reply = await this.redis.xreadgroup(
      "GROUP",
      o.group,
      o.consumerName,
      "COUNT",
      o.batchSize,
      "BLOCK",
      o.blockMs,
      "STREAMS",
      o.stream,
      id,
    ) as [string, RawEntry[]][] | null; // deno-fmt-ignore
    const entries = reply?.[0]?.[1] ?? [];
    if (cursor === undefined) {
      await this.#hold(entries, () => this.#handle(entries));
      return undefined;
    }
    // Re-reading our own pending entries: they may have been delivered before.
    if (entries.length === 0) return undefined;
    await this.#hold(entries, async () => this.#handle(entries, await this.#deliveries(entries)));
    return entries[entries.length - 1][0];
  }

  async #housekeeping(): Promise<void> {
    const now = Date.now();
    if (now >= this.#nextReclaimAt) {
      this.#nextReclaimAt = now + Math.min(5000, Math.max(100, this.#opts.idleThresholdMs / 2));
      await this.#reclaim();
    }
    if (now >= this.#nextTrimAt) {
      this.#nextTrimAt = now + 1000;
      await this.#trim();
    }
    if (now >= this.#nextLatencyAt) {
      this.#nextLatencyAt = now + 1000;
      await this.#publishLatency(false);
    }
    await this.#membership.collect(now);
  }

  /** XAUTOCLAIM loop: takes over entries idle past the threshold, whoever holds them. */
  async #reclaim(): Promise<void> {
    const o = this.#opts;
    let cursor = "0-0";
    for (let round = 0; round < 100 && !this.#life.stopping; round++) {
      const [next, entries, deleted] = await this.redis.xautoclaim(
        o.stream,
        o.group,
        o.consumerName,
        o.idleThresholdMs,
        cursor,
        "COUNT",
        o.batchSize,
      ) as [string, RawEntry[], string[]?]; // deno-fmt-ignore
      // Redis 7 drops deleted entries from the PEL itself and lists them here.
      if (deleted && deleted.length > 0) {
        this.stats.deleted += deleted.length;
        this.#log.warn(`${deleted.length} pending entries were deleted from the stream before processing`);
      }
      const live = entries.filter((e) => e[1] !== null);
      if (live.length > 0) {
        this.stats.reclaimed += live.length;
        this.#log.info(`reclaimed ${live.length} entries idle for over ${o.idleThresholdMs} ms`);
        await this.#hold(live, async () => this.#handle(live, await this.#deliveries(live)));
      }
      cursor = next;
      if (cursor === "0-0") break;
    }
  }

  /**
   * Runs `work` on entries in hand, renewing this consumer's claim on them while it lasts longer
   * than a third of the idle threshold (see `lease.ts`): a live consumer is never reclaimed from.
   */
  async #hold(entries: RawEntry[], work: () => Promise<void>): Promise<void> {
    if (entries.length === 0) return;
    const o = this.#opts;
    const ids = entries.map(([id]) => id);
    await this.#life.hold(entries.length, () =>
      withLease(
        renewEveryMs(o.idleThresholdMs),
        () => renewStreamLease(this.redis, o.stream, o.group, o.consumerName, ids),
        work,
      ));
  }

  /** Delivery counts of entries this consumer now owns, from XPENDING. */
  async #deliveries(entries: RawEntry[]): Promise<Map<string, number>> {
    const o = this.#opts;
    const rows = await this.redis.xpending(
      o.stream,
      o.group,
      entries[0][0],
      entries[entries.length - 1][0],
      entries.length * 2 + 16,
      o.consumerName,
    ) as [string, string, number, number][]; // deno-fmt-ignore
    return new Map(rows.map(([id, , , count]) => [id, count]));
  }

  async #handle(entries: RawEntry[], deliveries?: Map<string, number>): Promise<void> {
    if (entries.length === 0) return;
    const o = this.#opts;
    let counts: BatchReply;
    try {
      if (o.hooks) counts = await this.#applyHooked(entries, deliveries, o.hooks);
      else {
        const batch = buildBatch(entries, { ...o, deliveries, keys: this.#keys });
        if (o.settleMs) await sleep(o.settleMs);
        counts = await batchStep(entries, () => applyBatch(this.redis, batch));
      }
    } catch (error) {
      if (!(error instanceof BatchFailed)) throw error;
      await this.#batchFailed(error, deliveries);
      return;
    }
    this.#refusals.applied();
    const [confirmed, duplicates, rejected, skipped, , migration] = counts;
    if (migration) this.#log.warn(migration);
    const doneMs = Date.now();
    const s = this.stats;
    s.read += entries.length;
    s.confirmed += confirmed;
    s.duplicates += duplicates;
    s.rejected += rejected;
    s.skipped += skipped;
    s.batches++;
    if (rejected > 0) this.#log.warn(`dead-lettered ${rejected} entries to ${this.#keys.dlq}`);
    for (const [id, flat] of entries) {
      if (flat === null) continue;
      const ms = doneMs - idTimeMs(id);
      recordMs(this.#latency, ms);
      this.#latencyWindow.recordMs(ms);
    }
  }

  /**
   * A batch failed as a whole: its entries get their delivery counts back (the failure was not
   * theirs), then a refusal is logged once per cause and retried after a pause (the entries stay
   * pending), and anything else goes to the run loop. A script's own run-time error is the
   * exception: the entries keep their counts (see `batch_refusals.ts`).
   */
  async #batchFailed(failure: BatchFailed, deliveries: Map<string, number> | undefined) {
    const cause = failure.cause;
    if (isScriptBug(cause)) throw cause;
    const live = failure.entries.filter(([, f]) => f !== null).map(([id]) => id);
    await undoDeliveries(this.redis, this.#opts, live, deliveries).catch((error) =>
      this.#refusals.cannotUndo(error)
    );
    if (!isBatchRefusal(cause)) throw cause;
    const n = this.#refusals.refused(cause);
    await pauseAfterRefusal(n, () => this.#life.stopping);
  }

  /** A batch through {@link BatchHooks}: prepare (may hold entries back), apply, then report. */
  async #applyHooked(
    entries: RawEntry[],
    deliveries: Map<string, number> | undefined,
    hooks: BatchHooks,
  ): Promise<BatchReply> {
    const o = this.#opts;
    const info: BatchInfo = { ...o, deliveries, startedMs: Date.now() };
    try {
      const prepared = hooks.prepare
        ? await batchStep(entries, () => hooks.prepare!(this.redis, entries, info))
        : { entries };
      if (prepared.entries.length === 0) return [0, 0, 0, 0, "0", ""];
      const batch = buildBatch(prepared.entries, {
        ...o,
        deliveries,
        keys: this.#keys,
        lastErrors: prepared.lastErrors,
      });
      if (o.settleMs) await sleep(o.settleMs);
      const counts = await batchStep(
        prepared.entries,
        () => hooks.apply ? hooks.apply(this.redis, batch, info) : applyBatch(this.redis, batch),
      );
      await hooks.applied?.(this.redis, prepared.entries, info).catch((error) =>
        this.#log.warn(`after-batch hook failed: ${errorMessage(error)}`)
      );
      return counts;
    } catch (error) {
      const cause = error instanceof BatchFailed ? error.cause : error;
      await hooks.failed?.(this.redis, entries, info, cause).catch(() => {});
      throw error;
    }
  }

  /** Trims entries every group has acknowledged, once the stream is over its cap. */
  async #trim(): Promise<void> {
    const o = this.#opts;
    if (await this.redis.xlen(o.stream) <= o.streamMaxlen) return;
    const minId = await safeTrimId(this.redis, o.stream);
    if (minId !== undefined) await this.redis.xtrim(o.stream, "MINID", "~", minId);
  }

  /**
   * Publishes this consumer's enqueue-to-confirmation latency (HSET pix:latency <consumer> JSON):
   * since start, and over the last 10 s in `window`.
   */
  async #publishLatency(final: boolean): Promise<void> {
    if (final) {
      await this.redis.hdel(LATENCY_KEY, this.#opts.consumerName);
      return;
    }
    if (this.#latency.totalCount === 0) return;
    const summary = {
      ...summarize(this.#latency),
      at: new Date().toISOString(),
      window: this.#latencyWindow.summarize(),
    };
    await this.redis.hset(LATENCY_KEY, this.#opts.consumerName, JSON.stringify(summary));
  }
}
