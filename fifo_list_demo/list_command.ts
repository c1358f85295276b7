/**
 * What `consume:list` and `consume:list-reliable` share: their flags (mirroring env vars) and the
 * run with graceful SIGINT/SIGTERM (finish the batch in hand within SHUTDOWN_TIMEOUT_MS, say how it
 * went, exit 0; a second signal exits now).
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import {
  allowEvictionOption,
  blockMsOption,
  consumerBatchSizeOption,
  consumerNameOption,
  intIn,
  listNaming,
  markTtlOption,
  maxAmountOption,
  redisListOption,
  redisUrlOption,
  responseMaxlenOption,
  responsePrefixOption,
  settleMsOption,
  shutdownTimeoutOption,
  timestampMaxSkewOption,
  timestampMinOption,
  useHashtagOption,
  validationLimits,
  waitForRedisOption,
} from "@fastpix/cli";
import { createLogger, redactUrl } from "@fastpix/infra";
import {
  redisReadyForConsumer,
  SHUTDOWN_TIMEOUT_MS,
  stopOnSignalsBounded,
} from "@fastpix/consumer";
import {
  LIST_CONSUMER_DEFAULTS,
  type ListConsumerBase,
  type ListConsumerOptions,
} from "./list_consumer.ts";

/** A command with the flags every list consumer takes. */
export function listConsumerCommand(name: string, description: string) {
  return new Command(name)
    .description(description)
    .addOption(redisUrlOption())
    .addOption(
      new Option("--list-index <i>", "take from queue <i>: <base>_<i>").env("LIST_INDEX")
        .default(LIST_CONSUMER_DEFAULTS.listIndex).argParser(intIn(0, 1_000_000)),
    )
    .addOption(redisListOption())
    .addOption(useHashtagOption())
    .addOption(consumerNameOption())
    .addOption(responsePrefixOption())
    .addOption(responseMaxlenOption())
    .addOption(maxAmountOption())
    .addOption(timestampMinOption())
    .addOption(timestampMaxSkewOption())
    .addOption(consumerBatchSizeOption(LIST_CONSUMER_DEFAULTS.batchSize))
    .addOption(blockMsOption(LIST_CONSUMER_DEFAULTS.blockMs))
    .addOption(markTtlOption(LIST_CONSUMER_DEFAULTS.markTtlSeconds))
    .addOption(settleMsOption())
    .addOption(shutdownTimeoutOption(SHUTDOWN_TIMEOUT_MS))
    .addOption(waitForRedisOption())
    .addOption(allowEvictionOption());
}

type ListFlags = ReturnType<ReturnType<typeof listConsumerCommand>["opts"]>;

/** Consumer settings from the parsed flags. */
export function listConsumerOptions(flags: ListFlags): ListConsumerOptions {
  return {
    redisUrl: flags.redisUrl,
    listIndex: flags.listIndex,
    listNaming: listNaming(flags),
    consumerName: flags.consumerName,
    responsePrefix: flags.responsePrefix,
    responseMaxlen: flags.responseMaxlen,
    batchSize: flags.batchSize,
    blockMs: flags.blockMs,
    markTtlSeconds: flags.markTtl,
    settleMs: flags.settleMs,
    shutdownTimeoutMs: flags.shutdownTimeoutMs,
    limits: validationLimits(flags),
  };
}

/** Runs `consumer` until a signal, logging the start and the final counts. */
export async function runListConsumer(
  consumer: ListConsumerBase,
  flags: ListFlags,
  design: string,
): Promise<void> {
  const log = createLogger(design);
  if (!await redisReadyForConsumer({ url: flags.redisUrl }, flags, log)) return;
  const stopped = stopOnSignalsBounded(consumer, log, {
    timeoutMs: flags.shutdownTimeoutMs,
    dropped: design === "list",
  });
  log.info(
    `consuming ${consumer.source} (${design}) as ${flags.consumerName} on ${
      redactUrl(flags.redisUrl)
    }`,
  );
  const s = await consumer.run();
  log.info(
    `stopped: read ${s.read}, confirmed ${s.confirmed}, duplicates ${s.duplicates}, ` +
      `dead-lettered ${s.rejected}, recovered ${s.recovered}, skipped ${s.skipped}`,
  );
  stopped();
}
