/**
 * `deno task consume`: the stream consumer. Flags mirror the env vars of DESIGN.md.
 * SIGINT/SIGTERM: stop reading, finish and acknowledge the batch in hand, exit 0; a second signal
 * exits at once.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import {
  createLogger,
  DEFAULT_LIMITS,
  describeTarget,
  groupOption,
  idleThresholdOption,
  intIn,
  maxAmountOption,
  maxDeliveriesOption,
  ownedPartitions,
  parseName,
  partitionsOfOption,
  partitionsOption,
  redisClusterOption,
  redisUrlOption,
  responseMaxlenOption,
  responsePrefixOption,
  runCommand,
  streamMaxlenOption,
  streamOption,
} from "@fastpix/pix";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";
import { ConsumerPool } from "./consumer_pool.ts";

/** `consumer_<host>_<pid>`, the original's naming. */
export function defaultConsumerName(): string {
  return `consumer_${Deno.hostname()}_${Deno.pid}`;
}

const program = new Command("consume")
  .description("Consume PIX payments from the stream: validate, confirm, count, acknowledge.")
  .addOption(redisUrlOption())
  .addOption(redisClusterOption())
  .addOption(streamOption())
  .addOption(partitionsOption())
  .addOption(partitionsOfOption())
  .addOption(groupOption())
  .addOption(
    new Option("--consumer-name <name>", "name in the group").env("CONSUMER_NAME")
      .default(defaultConsumerName(), "consumer_<host>_<pid>").argParser(parseName),
  )
  .addOption(responsePrefixOption())
  .addOption(idleThresholdOption())
  .addOption(maxDeliveriesOption())
  .addOption(streamMaxlenOption())
  .addOption(responseMaxlenOption())
  .addOption(maxAmountOption())
  .addOption(
    new Option("--concurrency <n>", "consumer loops in this process").env("CONCURRENCY")
      .default(1).argParser(intIn(1, 64)),
  )
  .addOption(
    new Option("--batch-size <n>", "entries per XREADGROUP").env("CONSUMER_BATCH_SIZE")
      .default(CONSUMER_DEFAULTS.batchSize).argParser(intIn(1, 10_000)),
  )
  .addOption(
    new Option("--block-ms <ms>", "how long one read waits for new entries").env("BLOCK_MS")
      .default(CONSUMER_DEFAULTS.blockMs).argParser(intIn(1, 60_000)),
  )
  .addOption(
    new Option("--mark-ttl <seconds>", "how long a processed transaction id is remembered")
      .env("IDEMPOTENCY_TTL_SECONDS").default(CONSUMER_DEFAULTS.markTtlSeconds)
      .argParser(intIn(1, 10 * 365 * 24 * 3600)),
  )
  .addOption(
    new Option("--settle-ms <ms>", "simulated settlement time per batch (0: none)").env("SETTLE_MS")
      .default(0).argParser(intIn(0, 60_000)),
  )
  .action(async (opts) => {
    const log = createLogger("consume");
    const target = { url: opts.redisUrl, cluster: opts.redisCluster };
    const owned = ownedPartitions(opts.partitions, opts.partitionsOf);
    const pool = new ConsumerPool(
      {
        redisUrl: opts.redisUrl,
        redisCluster: opts.redisCluster,
        stream: opts.stream,
        group: opts.group,
        consumerName: opts.consumerName,
        responsePrefix: opts.responsePrefix,
        idleThresholdMs: opts.idleThresholdMs,
        maxDeliveries: opts.maxDeliveries,
        streamMaxlen: opts.streamMaxlen,
        responseMaxlen: opts.responseMaxlen,
        batchSize: opts.batchSize,
        blockMs: opts.blockMs,
        markTtlSeconds: opts.markTtl,
        settleMs: opts.settleMs,
        limits: { ...DEFAULT_LIMITS, maxAmountCents: opts.maxAmount },
      },
      opts.concurrency,
      { count: opts.partitions, owned },
    );
    // Ctrl+C under `deno task` arrives twice (the terminal signals the whole process group and
    // deno task forwards it), so only a signal well after the first one means "exit now".
    let firstSignalAt = 0;
    const onSignal = () => {
      const now = Date.now();
      if (firstSignalAt > 0 && now - firstSignalAt < 500) return;
      if (firstSignalAt > 0) {
        log.warn("second signal: exiting now");
        Deno.exit(130);
      }
      firstSignalAt = now;
      log.info("stopping: finishing the batch in hand (signal again to exit now)");
      pool.stop();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    const what = opts.partitions === 0
      ? opts.stream
      : `partitions ${owned.join(",")} of ${opts.partitions} of ${opts.stream}`;
    log.info(
      `consuming ${what} as ${opts.group}/${opts.consumerName} on ${describeTarget(target)}` +
        ` (${pool.consumers.length} loop${pool.consumers.length > 1 ? "s" : ""})`,
    );
    const s = await pool.run();
    log.info(
      `stopped: read ${s.read}, confirmed ${s.confirmed}, duplicates ${s.duplicates}, ` +
        `dead-lettered ${s.rejected}, reclaimed ${s.reclaimed}, skipped ${s.skipped}`,
    );
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  });

if (import.meta.main) await runCommand(program);
