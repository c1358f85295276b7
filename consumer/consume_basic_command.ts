/**
 * `deno task consume:basic`: the basic stream consumer (one entry per XREADGROUP, counters, XACK,
 * no confirmations, XPENDING + XCLAIM recovery). SIGINT/SIGTERM: finish the entry in hand, exit 0;
 * a second signal exits at once.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import {
  blockMsOption,
  consumerNameOption,
  groupOption,
  idleThresholdOption,
  markTtlOption,
  maxAmountOption,
  redisUrlOption,
  runCommand,
  settleMsOption,
  stopOnSignals,
  streamOption,
  timestampMaxSkewOption,
  timestampMinOption,
  validationLimits,
} from "@fastpix/cli";
import { createLogger, redactUrl } from "@fastpix/infra";
import { BasicStreamConsumer } from "./basic_consumer.ts";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";

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
  .action(async (opts) => {
    const log = createLogger("consume:basic");
    const consumer = new BasicStreamConsumer({
      redisUrl: opts.redisUrl,
      stream: opts.stream,
      group: opts.group,
      consumerName: opts.consumerName,
      idleThresholdMs: opts.idleThresholdMs,
      blockMs: opts.blockMs,
      settleMs: opts.settleMs,
      markTtlSeconds: opts.markTtl,
      limits: validationLimits(opts),
    });
    const removeSignals = stopOnSignals(() => consumer.stop(), log);
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
    removeSignals();
  });

if (import.meta.main) await runCommand(program);
