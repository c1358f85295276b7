/**
 * `deno task consume:basic`: the basic stream consumer (one entry per XREADGROUP, counters, XACK,
 * no confirmations, XPENDING + XCLAIM recovery). SIGINT/SIGTERM: finish the entry in hand (or, if
 * Redis does not let it within SHUTDOWN_TIMEOUT_MS, leave it pending), say which, exit 0; a second
 * signal exits at once.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import {
  allowEvictionOption,
  blockMsOption,
  consumerGcOption,
  consumerNameOption,
  groupOption,
  idleThresholdOption,
  markTtlOption,
  maxAmountOption,
  redisUrlOption,
  runCommand,
  settleMsOption,
  shutdownTimeoutOption,
  streamOption,
  timestampMaxSkewOption,
  timestampMinOption,
  validationLimits,
  waitForRedisOption,
} from "@fastpix/cli";
import { CONSUMER_GC_MS, createLogger, redactUrl } from "@fastpix/infra";
import { BasicStreamConsumer } from "./basic_consumer.ts";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";
import { SHUTDOWN_TIMEOUT_MS, stopOnSignalsBounded } from "./shutdown.ts";
import { redisReadyForConsumer } from "./start.ts";

const program = new Command("consume:basic")
  .description(
    "Consume PIX payments one at a time from the stream: count, acknowledge (no confirmations).",
  )
  .addOption(redisUrlOption())
  .addOption(streamOption())
  .addOption(groupOption())
  .addOption(consumerNameOption())
  .addOption(idleThresholdOption())
  .addOption(maxAmountOption())
  .addOption(timestampMinOption())
  .addOption(timestampMaxSkewOption())
  .addOption(blockMsOption(CONSUMER_DEFAULTS.blockMs))
  .addOption(markTtlOption(CONSUMER_DEFAULTS.markTtlSeconds))
  .addOption(settleMsOption())
  .addOption(shutdownTimeoutOption(SHUTDOWN_TIMEOUT_MS))
  .addOption(waitForRedisOption())
  .addOption(allowEvictionOption())
  .addOption(consumerGcOption(CONSUMER_GC_MS))
  .action(async (opts) => {
    const log = createLogger("consume:basic");
    if (!await redisReadyForConsumer({ url: opts.redisUrl }, opts, log)) return;
    const consumer = new BasicStreamConsumer({
      redisUrl: opts.redisUrl,
      stream: opts.stream,
      group: opts.group,
      consumerName: opts.consumerName,
      idleThresholdMs: opts.idleThresholdMs,
      blockMs: opts.blockMs,
      settleMs: opts.settleMs,
      shutdownTimeoutMs: opts.shutdownTimeoutMs,
      consumerGcMs: opts.consumerGcMs,
      markTtlSeconds: opts.markTtl,
      limits: validationLimits(opts),
    });
    const stopped = stopOnSignalsBounded(consumer, log, { timeoutMs: opts.shutdownTimeoutMs });
    log.info(
      `consuming ${opts.stream} one at a time as ${opts.group}/${opts.consumerName} on ${
        redactUrl(opts.redisUrl)
      }`,
    );
    const s = await consumer.run();
    log.info(
      `stopped: read ${s.read}, counted ${s.counted}, duplicates ${s.duplicates}, ` +
        `dead-lettered ${s.rejected}, claimed ${s.claimed}`,
    );
    stopped();
  });

if (import.meta.main) await runCommand(program);
