/**
 * `deno task consume`: the stream consumer. Flags mirror the env vars of DESIGN.md.
 * SIGINT/SIGTERM: stop reading, finish and acknowledge the batch in hand, exit 0; a second signal
 * exits at once.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import {
  blockMsOption,
  consumerBatchSizeOption,
  consumerNameOption,
  createLogger,
  DEFAULT_LIMITS,
  describeTarget,
  groupOption,
  idleThresholdOption,
  intIn,
  markTtlOption,
  maxAmountOption,
  maxDeliveriesOption,
  ownedPartitions,
  partitionsOfOption,
  partitionsOption,
  redisClusterOption,
  redisUrlOption,
  responseMaxlenOption,
  responsePrefixOption,
  runCommand,
  settleMsOption,
  stopOnSignals,
  streamMaxlenOption,
  streamOption,
} from "@fastpix/pix";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";
import { ConsumerPool } from "./consumer_pool.ts";

const program = new Command("consume")
  .description("Consume PIX payments from the stream: validate, confirm, count, acknowledge.")
  .addOption(redisUrlOption())
  .addOption(redisClusterOption())
  .addOption(streamOption())
  .addOption(partitionsOption())
  .addOption(partitionsOfOption())
  .addOption(groupOption())
  .addOption(consumerNameOption())
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
  .addOption(consumerBatchSizeOption(CONSUMER_DEFAULTS.batchSize))
  .addOption(blockMsOption(CONSUMER_DEFAULTS.blockMs))
  .addOption(markTtlOption(CONSUMER_DEFAULTS.markTtlSeconds))
  .addOption(settleMsOption())
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
    const removeSignals = stopOnSignals(() => pool.stop(), log);
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
    removeSignals();
  });

if (import.meta.main) await runCommand(program);
