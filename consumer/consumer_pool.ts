/**
 * Several consumer loops in one process (`--concurrency N`), each a member of the group with its
 * own connection and name, stopped together.
 * @module
 */
import {
  type ConsumerStats,
  emptyStats,
  StreamConsumer,
  type StreamConsumerOptions,
} from "./stream_consumer.ts";

/** Adds up the stats of several consumers. */
export function sumStats(all: ConsumerStats[]): ConsumerStats {
  const total = emptyStats();
  for (const s of all) {
    for (const k of Object.keys(total) as (keyof ConsumerStats)[]) total[k] += s[k];
  }
  return total;
}

/** `concurrency` consumers named `<name>` (one) or `<name>_<i>` (several). */
export class ConsumerPool {
  readonly consumers: StreamConsumer[];

  constructor(options: StreamConsumerOptions, concurrency: number) {
    this.consumers = Array.from({ length: concurrency }, (_, i) =>
      new StreamConsumer({
        ...options,
        consumerName: concurrency === 1 ? options.consumerName : `${options.consumerName}_${i}`,
      }));
  }

  /** Runs every loop until {@link stop}; resolves to the summed stats. */
  async run(): Promise<ConsumerStats> {
    return sumStats(await Promise.all(this.consumers.map((c) => c.run())));
  }

  /** Stops every loop after its batch in hand. */
  stop(): void {
    for (const c of this.consumers) c.stop();
  }
}
