/**
 * The registry of queue designs: for each one (named in {@link DESIGNS}), how payments get in, how
 * deep its queue is, whether its consumer is there, and which command drains it. The gateway, the
 * injector, the comparison, the k6 runner and the monitor all read it; adding a design is one entry
 * here and in `design_info.ts`, plus its code.
 * @module
 */
import { LIST_CONSUMERS_KEY, type ListNaming, sourceListKey } from "@fastpix/pix";
import { groupInfo, type RedisClient } from "@fastpix/infra";
import { type DesignInfo, type DesignName, DESIGNS } from "./design_info.ts";
import {
  type Enqueuer,
  listEnqueuer,
  streamEnqueuer,
  type StreamEnqueuerOptions,
} from "./enqueue.ts";

/** Where payments go. */
export interface EnqueueTarget {
  /** Payment stream of the stream designs (`REDIS_STREAM`). */
  stream: string;
  /** How many queues (`<base>_<i>`) the list designs spread payments over (default 1). */
  numLists?: number;
  /** How those queues are named (`REDIS_LIST`, `USE_HASHTAG`; default `source_list_<i>`). */
  listNaming?: ListNaming;
  /** Other lists for the list designs, instead of the named queues. */
  lists?: readonly string[];
  /** Partitions, routing and durability of the `stream` design's enqueuer. */
  streamOptions?: StreamEnqueuerOptions;
}

/** Where the designs keep their queues and who reads them. */
export interface DesignTarget extends EnqueueTarget {
  /** Consumer group the stream consumers read with (`GROUP_NAME`). */
  group: string;
}

/** How a tool drives one design. */
export interface DesignBinding {
  design: DesignName;
  info: DesignInfo;
  enqueuer: Enqueuer;
  /** Its consumer writes confirmations, so `wait=true` and `--await` can answer. */
  confirms: boolean;
  /** Payments waiting in its queue (not yet delivered plus in flight). */
  depth(redis: RedisClient): Promise<number>;
  /** Why the design cannot take payments now (`undefined`: ready). */
  notReady(redis: RedisClient): Promise<string | undefined>;
  /** The consumer that drains it: a repository script (from the root) and its flags. */
  consumer: { script: string; args: string[] };
}

/** The code behind one design. */
interface DesignDriver {
  enqueuer(target: EnqueueTarget, lists: readonly string[]): Enqueuer;
  depth(redis: RedisClient, target: DesignTarget, lists: readonly string[]): Promise<number>;
  notReady(redis: RedisClient, target: DesignTarget): Promise<string | undefined>;
  consumerArgs(target: DesignTarget): string[];
}

const streamFlags = (t: DesignTarget) => ["--stream", t.stream, "--group", t.group];
/** The list consumers' flags for the target's queue names (none: their defaults and env vars). */
const listFlags = ({ listNaming: n }: DesignTarget) =>
  n === undefined ? [] : ["--redis-list", n.base, "--use-hashtag", String(n.hashtag)];

const DRIVERS: Readonly<Record<DesignName, DesignDriver>> = {
  stream: {
    enqueuer: (t) => streamEnqueuer(t.stream, t.streamOptions),
    depth: (redis, t) => streamDepth(redis, t.stream, t.group),
    notReady: (redis, t) => groupMissing(redis, t, DESIGNS.stream),
    consumerArgs: streamFlags,
  },
  basic: {
    enqueuer: (t) => ({ ...streamEnqueuer(t.stream), design: "basic" }),
    depth: (redis, t) => streamDepth(redis, t.stream, t.group),
    notReady: (redis, t) => groupMissing(redis, t, DESIGNS.basic),
    consumerArgs: streamFlags,
  },
  list: {
    enqueuer: (_, lists) => listEnqueuer(lists, "list"),
    depth: (redis, _, lists) => listsDepth(redis, lists),
    // BRPOP consumers leave no trace in Redis: reachable is all that can be checked.
    notReady: () => Promise.resolve(undefined),
    consumerArgs: listFlags,
  },
  "list-reliable": {
    enqueuer: (_, lists) => listEnqueuer(lists, "list-reliable"),
    depth: (redis, _, lists) => listsDepth(redis, lists),
    notReady: async (redis) =>
      await redis.hlen(LIST_CONSUMERS_KEY) > 0
        ? undefined
        : `no reliable list consumer is registered: start one (deno task ${
          DESIGNS["list-reliable"].consumerTask
        })`,
    consumerArgs: listFlags,
  },
};

/** The binding of `design` on `target`. */
export function bindDesign(design: DesignName, target: DesignTarget): DesignBinding {
  const driver = DRIVERS[design];
  const info = DESIGNS[design];
  const lists = designLists(target);
  return {
    design,
    info,
    enqueuer: driver.enqueuer(target, lists),
    confirms: info.confirms,
    depth: (redis) => driver.depth(redis, target, lists),
    notReady: (redis) => driver.notReady(redis, target),
    consumer: { script: info.consumerScript, args: driver.consumerArgs(target) },
  };
}

/** The enqueuer that feeds `design` on `target`. */
export function enqueuerFor(design: DesignName, target: EnqueueTarget): Enqueuer {
  return DRIVERS[design].enqueuer(target, designLists(target));
}

/** The lists the list designs use: `target.lists`, else its `numLists` named queues. */
export function designLists(target: EnqueueTarget): readonly string[] {
  return target.lists ??
    Array.from({ length: target.numLists ?? 1 }, (_, i) => sourceListKey(i, target.listNaming));
}

async function groupMissing(
  redis: RedisClient,
  target: DesignTarget,
  info: DesignInfo,
): Promise<string | undefined> {
  if (await groupInfo(redis, target.stream, target.group) !== undefined) return undefined;
  return `consumer group ${target.group} on ${target.stream} is missing: start a consumer (deno task ${info.consumerTask})`;
}

/** Payments waiting in the lists. */
async function listsDepth(redis: RedisClient, lists: readonly string[]): Promise<number> {
  const pipeline = redis.pipeline();
  for (const list of lists) pipeline.llen(list);
  let total = 0;
  for (const [error, length] of await pipeline.exec() ?? []) {
    if (error) throw error;
    total += Number(length);
  }
  return total;
}

/** Entries the group has not acknowledged: never delivered (lag) plus pending; XLEN without a group. */
async function streamDepth(redis: RedisClient, stream: string, group: string): Promise<number> {
  const info = await groupInfo(redis, stream, group);
  if (info === undefined || info.lag === null || info.lag === undefined) {
    return await redis.xlen(stream);
  }
  return Number(info.lag) + Number(info.pending);
}
