/**
 * Several consumer loops in one process (`--concurrency N`), each a member of the group with its
 * own connection and name, stopped together. With partitions, `N` loops per owned partition: one
 * XREADGROUP cannot span partitions on a cluster (they live in different slots), so each loop reads
 * one partition, on its own connection (a blocking read holds its connection).
 * @module
 */
import { partitionTags } from "@fastpix/infra";
import {
  type ConsumerStats,
  emptyStats,
  StreamConsumer,
  type StreamConsumerOptions,
} from "./stream_consumer.ts";
import { type StopOutcome, sumOutcomes } from "./shutdown.ts";

/** Adds up the stats of several consumers. */
export function sumStats(all: ConsumerStats[]): ConsumerStats {
  const total = emptyStats();
  for (const s of all) {
    for (const k of Object.keys(total) as (keyof ConsumerStats)[]) total[k] += s[k];
  }
  return total;
}

/** Which partitions a pool consumes. */
export interface PoolPartitions {
  /** Partitions of the layout (`PARTITIONS`); 0: the single stream. */
  count: number;
  /** The partitions this pool owns (indices); default: all. */
  owned?: readonly number[];
}

/**
 * `concurrency` consumers named `<name>` (one) or `<name>_<i>` (several); with partitions, that many
 * per owned partition `p`, named `<name>_p<p>` or `<name>_p<p>_<i>`.
 */
export class ConsumerPool {
  readonly consumers: StreamConsumer[];

  constructor(
    options: StreamConsumerOptions,
    concurrency: number,
    partitions: PoolPartitions = { count: 0 },
  ) {
    const loops = (name: string, partition?: string) =>
      Array.from({ length: concurrency }, (_, i) =>
        new StreamConsumer({
          ...options,
          partition,
          consumerName: concurrency === 1 ? name : `${name}_${i}`,
        }));
    if (partitions.count === 0) {
      this.consumers = loops(options.consumerName);
      return;
    }
    const tags = partitionTags(partitions.count);
    const owned = partitions.owned ?? tags.map((_, p) => p);
    this.consumers = owned.flatMap((p) => loops(`${options.consumerName}_p${p}`, tags[p]));
  }

  /** Runs every loop until {@link stop}; resolves to the summed stats. */
  async run(): Promise<ConsumerStats> {
    return sumStats(await Promise.all(this.consumers.map((c) => c.run())));
  }

  /** Stops every loop after its batch in hand (bounded: see `shutdown.ts`). */
  stop(): void {
    for (const c of this.consumers) c.stop();
  }

  /** How the loops stopped, added up. */
  get outcome(): StopOutcome {
    return sumOutcomes(this.consumers.map((c) => c.outcome));
  }
}
