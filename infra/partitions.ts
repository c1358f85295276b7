/**
 * Partitioned streams (`PARTITIONS=P`): the payment stream split into P streams whose keys carry a
 * hash tag, so each partition (stream, dead letters, idempotency marks, counters, confirmation
 * streams) lives in one Redis Cluster slot and the batch script stays single-slot. Producers route
 * each payment by a stable hash; consumers own partitions; totals are summed across partitions.
 * P = 0 (unset) is the single `pix_payments` layout, unchanged.
 * @module
 */
import keySlot from "cluster-key-slot";
import { formatCents } from "@fastpix/pix";
import { responseStreamKey, type StreamKeys, streamKeys } from "@fastpix/pix";
import type { RedisClient } from "./redis.ts";

/** What a payment is routed by: its `transaction_id` (even spread) or its `backend_id` (order). */
export type RouteBy = "transaction" | "backend";

/** How the payment stream is laid out; producers and consumers must agree on it. */
export interface StreamLayout {
  /** Base stream name (`REDIS_STREAM`). */
  stream: string;
  /** Number of partitions; 0: the single stream (no hash tags anywhere). */
  partitions: number;
  /** What producers hash to pick a partition (consumers do not care). */
  routeBy: RouteBy;
}

/** Redis Cluster's slot count. */
export const CLUSTER_SLOTS = 16384;
/** Most partitions a layout may have. */
export const MAX_PARTITIONS = 256;

const tagCache = new Map<number, string[]>();

/**
 * The hash tags of `count` partitions: tag `i` is `p<i>.<n>` with the smallest `n` whose CRC16 slot
 * falls in the middle half of the i-th of `count` equal slot ranges. Slots are thus evenly spaced,
 * so partitions spread evenly over masters that split the slots evenly (as
 * `redis-cli --cluster create` does); naive tags like `0`,`1`,`2` can share a shard. Deterministic:
 * every process computes the same tags, but they depend on `count` (see the README on changing P).
 */
export function partitionTags(count: number): readonly string[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw new RangeError(`Partition count must be 1-${MAX_PARTITIONS}, got ${count}`);
  }
  const cached = tagCache.get(count);
  if (cached) return cached;
  const width = CLUSTER_SLOTS / count;
  const reach = Math.max(0.5, width / 4);
  const tags = Array.from({ length: count }, (_, i) => {
    const center = (i + 0.5) * width;
    for (let n = 0;; n++) {
      const tag = `p${i}.${n}`;
      if (Math.abs(keySlot(tag) - center) <= reach) return tag;
    }
  });
  tagCache.set(count, tags);
  return tags;
}

/** 32-bit FNV-1a of the UTF-8 bytes of `text`: the routing hash (simple to reproduce anywhere). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The partition of a payment: `fnv1a32(transaction_id or backend_id) mod P` (0 when unpartitioned). */
export function partitionOf(
  layout: StreamLayout,
  payment: { transaction_id: string; backend_id: string },
): number {
  if (layout.partitions === 0) return 0;
  const key = layout.routeBy === "backend" ? payment.backend_id : payment.transaction_id;
  return fnv1a32(key) % layout.partitions;
}

/** The hash tag of a payment's partition; undefined when unpartitioned. */
export function partitionTagOf(
  layout: StreamLayout,
  payment: { transaction_id: string; backend_id: string },
): string | undefined {
  if (layout.partitions === 0) return undefined;
  return partitionTags(layout.partitions)[partitionOf(layout, payment)];
}

/** The keys of every partition, in partition order (one entry when unpartitioned). */
export function layoutKeys(layout: Pick<StreamLayout, "stream" | "partitions">): StreamKeys[] {
  if (layout.partitions === 0) return [streamKeys(layout.stream)];
  return partitionTags(layout.partitions).map((tag) => streamKeys(layout.stream, tag));
}

/**
 * The confirmation streams a backend must read: with `routeBy: "backend"` the one of its partition,
 * else one per partition (its payments spread over all of them).
 */
export function responseKeysOf(
  layout: Pick<StreamLayout, "partitions" | "routeBy">,
  prefix: string,
  backendId: string,
): string[] {
  if (layout.partitions === 0) return [responseStreamKey(prefix, backendId)];
  const tags = partitionTags(layout.partitions);
  if (layout.routeBy === "backend") {
    return [responseStreamKey(prefix, backendId, tags[fnv1a32(backendId) % tags.length])];
  }
  return tags.map((tag) => responseStreamKey(prefix, backendId, tag));
}

/** Parses `i/n` (consumer i of n, 0-based) for `--partitions-of`. */
export function parseShare(text: string): { index: number; of: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]), of = Number(match?.[2]);
  if (!match || of < 1 || index >= of) {
    throw new Error(`Cannot parse "${text}": expected i/n with 0 <= i < n, e.g. 0/3`);
  }
  return { index, of };
}

/**
 * The partitions consumer `share.index` of `share.of` owns, statically: with at most as many
 * consumers as partitions, every partition `p` with `p mod n = i` (consumers take several); with
 * more, partition `i mod P` (consumers share its group). Without `share`, all of them.
 */
export function ownedPartitions(count: number, share?: { index: number; of: number }): number[] {
  const all = Array.from({ length: Math.max(count, 1) }, (_, p) => p);
  if (share === undefined || count === 0) return all;
  if (share.of <= count) return all.filter((p) => p % share.of === share.index);
  return [share.index % count];
}

/** Counters of one partition (or of the single stream). */
export interface PartitionTotals {
  /** Partition hash tag; undefined for the single stream. */
  tag?: string;
  processedCount: number;
  totalAmountCents: bigint;
}

/** `processed_count` and the exact total, summed over every partition. */
export interface Totals {
  processedCount: number;
  totalAmountCents: bigint;
  /** Formatted with 2 places, like `total_amount`. */
  totalAmount: string;
  partitions: PartitionTotals[];
}

/**
 * Reads the counters of every partition (one MGET each: a partition's counters share a slot) and
 * sums them; for the unpartitioned layout, the single `processed_count`/`total_amount_cents`.
 * The monitor and stats call this so totals are right on a cluster.
 */
export async function readTotals(
  redis: RedisClient,
  layout: Pick<StreamLayout, "stream" | "partitions">,
): Promise<Totals> {
  const partitions = await Promise.all(
    layoutKeys(layout).map(async (k) => {
      const [count, cents] = await redis.mget(k.processedCount, k.totalAmountCents);
      return {
        tag: k.tag,
        processedCount: Number(count ?? 0),
        totalAmountCents: BigInt(cents ?? 0),
      };
    }),
  );
  let processedCount = 0, totalAmountCents = 0n;
  for (const p of partitions) {
    processedCount += p.processedCount;
    totalAmountCents += p.totalAmountCents;
  }
  return {
    processedCount,
    totalAmountCents,
    totalAmount: formatCents(totalAmountCents),
    partitions,
  };
}
