/**
 * The one place that maps a queue design to how the gateway feeds it: its enqueuer, whether its
 * consumer answers with confirmations (`wait=true`), how deep its queue is and whether it is ready.
 * @module
 */
import { LIST_CONSUMERS_KEY, sourceListKey } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import { type Enqueuer, enqueuerFor, QUEUE_DESIGNS, type QueueDesign } from "@fastpix/queue";

/** Every design `--design` and `?design=` name (the simulators' {@link QUEUE_DESIGNS}). */
export const GATEWAY_DESIGNS = QUEUE_DESIGNS;

/** One of {@link GATEWAY_DESIGNS}. */
export type GatewayDesign = QueueDesign;

/** Where the designs keep their queues. */
export interface DesignTarget {
  /** Payment stream of the stream designs (`REDIS_STREAM`). */
  stream: string;
  /** Consumer group the stream consumer reads with (`GROUP_NAME`). */
  group: string;
  /** How many `source_list_<i>` lists the list designs spread payments over. */
  numLists: number;
}

/** How the gateway drives one design. */
export interface DesignBinding {
  design: GatewayDesign;
  enqueuer: Enqueuer;
  /** Its consumer writes confirmations, so `wait=true` can answer. */
  confirms: boolean;
  /** Payments waiting in its queue. */
  depth(redis: Redis): Promise<number>;
  /** Why the design cannot take payments now (`undefined`: ready). */
  notReady(redis: Redis): Promise<string | undefined>;
  /** The consumer that drains it: a repo script (from the repo root) and its flags. */
  consumer: { script: string; args: string[] };
}

/** Whether `name` is one of {@link GATEWAY_DESIGNS}. */
export function isGatewayDesign(name: string): name is GatewayDesign {
  return (GATEWAY_DESIGNS as readonly string[]).includes(name);
}

/** The binding of `design`: how the gateway feeds it, reads its depth and checks it is ready. */
export function bindDesign(design: GatewayDesign, target: DesignTarget): DesignBinding {
  const lists = designLists(target);
  const enqueuer = enqueuerFor(design, { stream: target.stream, lists });
  const streamFlags = ["--stream", target.stream, "--group", target.group];
  switch (design) {
    case "stream":
      return {
        design,
        enqueuer,
        confirms: true,
        depth: (redis) => streamDepth(redis, target.stream, target.group),
        notReady: (redis) => groupMissing(redis, target, "deno task consume"),
        consumer: { script: "consumer/consume_command.ts", args: streamFlags },
      };
    case "basic":
      return {
        design,
        enqueuer,
        confirms: false, // the basic consumer only counts and acknowledges
        depth: (redis) => streamDepth(redis, target.stream, target.group),
        notReady: (redis) => groupMissing(redis, target, "deno task consume:basic"),
        consumer: { script: "consumer/consume_basic_command.ts", args: streamFlags },
      };
    case "list":
      return {
        design,
        enqueuer,
        confirms: true,
        depth: (redis) => listsDepth(redis, lists),
        // BRPOP consumers leave no trace in Redis: reachable is all that can be checked.
        notReady: () => Promise.resolve(undefined),
        consumer: { script: "fifo_list_demo/consume_list_command.ts", args: [] },
      };
    case "list-reliable":
      return {
        design,
        enqueuer,
        confirms: true,
        depth: (redis) => listsDepth(redis, lists),
        notReady: async (redis) =>
          await redis.hlen(LIST_CONSUMERS_KEY) > 0
            ? undefined
            : "no reliable list consumer is registered: start one (deno task consume:list-reliable)",
        consumer: { script: "fifo_list_demo/consume_list_reliable_command.ts", args: [] },
      };
  }
}

/** The lists the list designs use. */
export function designLists(target: DesignTarget): string[] {
  return Array.from({ length: target.numLists }, (_, i) => sourceListKey(i));
}

/** The group's entry in XINFO GROUPS as a record (`undefined`: no such group or stream). */
async function groupInfo(
  redis: Redis,
  stream: string,
  group: string,
): Promise<Record<string, unknown> | undefined> {
  let groups: unknown[][];
  try {
    groups = await redis.xinfo("GROUPS", stream) as unknown[][];
  } catch (error) {
    if (/no such key/i.test(String(error))) return undefined;
    throw error;
  }
  for (const flat of groups) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) info[String(flat[i])] = flat[i + 1];
    if (info.name === group) return info;
  }
  return undefined;
}

async function groupMissing(
  redis: Redis,
  target: DesignTarget,
  start: string,
): Promise<string | undefined> {
  if (await groupInfo(redis, target.stream, target.group) !== undefined) return undefined;
  return `consumer group ${target.group} on ${target.stream} is missing: start a consumer (${start})`;
}

/** Payments waiting in the lists. */
async function listsDepth(redis: Redis, lists: readonly string[]): Promise<number> {
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
async function streamDepth(redis: Redis, stream: string, group: string): Promise<number> {
  const info = await groupInfo(redis, stream, group);
  if (info === undefined || info.lag === null || info.lag === undefined) {
    return await redis.xlen(stream);
  }
  return Number(info.lag) + Number(info.pending);
}
