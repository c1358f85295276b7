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
        depth: (redis) => redis.xlen(target.stream),
        notReady: (redis) => groupMissing(redis, target.stream, target.group),
      };
    default:
      throw new DesignUnavailableError(
        `Design ${design} is not available in this gateway yet: use --design stream`,
      );
  }
}

/** The lists the list designs use. */
export function designLists(target: DesignTarget): string[] {
  return Array.from({ length: target.numLists }, (_, i) => sourceListKey(i));
}

async function groupMissing(
  redis: Redis,
  stream: string,
  group: string,
): Promise<string | undefined> {
  try {
    const groups = await redis.xinfo("GROUPS", stream) as unknown[][];
    const names = groups.map((g) => String(g[g.indexOf("name") + 1]));
    if (names.includes(group)) return undefined;
  } catch (error) {
    if (!/no such key/i.test(String(error))) throw error;
  }
  return `consumer group ${group} on ${stream} is missing: start a consumer (deno task consume)`;
}
