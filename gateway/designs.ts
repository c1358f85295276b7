/**
 * The one place that maps a queue design to how the gateway feeds it: its enqueuer, whether its
 * consumer answers with confirmations (`wait=true`), how deep its queue is and whether it is ready.
 * @module
 */
import { type Redis, sourceListKey } from "@fastpix/pix";
import { type Enqueuer, streamEnqueuer } from "@fastpix/simulators";

/** Every design `--design` and `?design=` name. */
export const GATEWAY_DESIGNS = ["stream", "list", "list-reliable", "basic"] as const;

/** One of {@link GATEWAY_DESIGNS}. */
export type GatewayDesign = typeof GATEWAY_DESIGNS[number];

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

/** Thrown for a design this build does not have yet. */
export class DesignUnavailableError extends Error {
  override name = "DesignUnavailableError";
}

/** Whether `name` is one of {@link GATEWAY_DESIGNS}. */
export function isGatewayDesign(name: string): name is GatewayDesign {
  return (GATEWAY_DESIGNS as readonly string[]).includes(name);
}

/** The binding of `design`; throws {@link DesignUnavailableError} when it is not built yet. */
export function bindDesign(design: GatewayDesign, target: DesignTarget): DesignBinding {
  switch (design) {
    case "stream":
      return {
        design,
        enqueuer: streamEnqueuer(target.stream),
        confirms: true,
        depth: (redis) => streamDepth(redis, target.stream, target.group),
        notReady: (redis) => groupMissing(redis, target.stream, target.group),
        consumer: {
          script: "consumer/consume_command.ts",
          args: ["--stream", target.stream, "--group", target.group],
        },
      };
    default:
      throw new DesignUnavailableError(
        `Design ${design} is not available in this gateway yet: use --design stream`,
      );
  }
}

/** The designs this build can serve. */
export function availableDesigns(target: DesignTarget): GatewayDesign[] {
  return GATEWAY_DESIGNS.filter((design) => {
    try {
      bindDesign(design, target);
      return true;
    } catch (error) {
      if (error instanceof DesignUnavailableError) return false;
      throw error;
    }
  });
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
  stream: string,
  group: string,
): Promise<string | undefined> {
  if (await groupInfo(redis, stream, group) !== undefined) return undefined;
  return `consumer group ${group} on ${stream} is missing: start a consumer (deno task consume)`;
}

/** Entries the group has not acknowledged: never delivered (lag) plus pending; XLEN without a group. */
async function streamDepth(redis: Redis, stream: string, group: string): Promise<number> {
  const info = await groupInfo(redis, stream, group);
  if (info === undefined || info.lag === null || info.lag === undefined) {
    return await redis.xlen(stream);
  }
  return Number(info.lag) + Number(info.pending);
}
