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
  groupOption,
  idleThresholdOption,
  intIn,
  ledgerMaxBacklogOption,
  maxAmountOption,
  maxDeliveriesOption,
  parseName,
  postgresDsnOption,
  redactUrl,
  redisUrlOption,
  resolveMaxDeliveries,
  responseMaxlenOption,
  responsePrefixOption,
  runCommand,
  streamMaxlenOption,
  streamOption,
} from "@fastpix/pix";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";
import { ConsumerPool } from "./consumer_pool.ts";
import { combineHooks } from "./batch_hooks.ts";
import { retryHooks } from "./retries.ts";
import { Ledger } from "./ledger/mod.ts";

/** `consumer_<host>_<pid>`, the original's naming. */
export function defaultConsumerName(): string {
  return `consumer_${Deno.hostname()}_${Deno.pid}`;
}

const program = new Command("consume")
  .description("Consume PIX payments from the stream: validate, confirm, count, acknowledge.")
  .addOption(redisUrlOption())
  .addOption(streamOption())
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
  .addOption(postgresDsnOption())
  .addOption(ledgerMaxBacklogOption())
  .action(async (opts) => {
    const log = createLogger("consume");
    const maxDeliveries = resolveMaxDeliveries(
      opts.maxDeliveries,
      program.getOptionValueSource("maxDeliveries"),
    );
    const ledger = opts.postgresDsn
      ? await Ledger.open({
        dsn: opts.postgresDsn,
        redisUrl: opts.redisUrl,
        stream: opts.stream,
        consumerName: opts.consumerName,
        maxBacklog: opts.ledgerMaxBacklog,
        claimIdleMs: opts.idleThresholdMs,
      })
      : undefined;
    const pool = new ConsumerPool({
      redisUrl: opts.redisUrl,
      stream: opts.stream,
      group: opts.group,
      consumerName: opts.consumerName,
      responsePrefix: opts.responsePrefix,
      idleThresholdMs: opts.idleThresholdMs,
      maxDeliveries,
      streamMaxlen: opts.streamMaxlen,
      responseMaxlen: opts.responseMaxlen,
      batchSize: opts.batchSize,
      blockMs: opts.blockMs,
      markTtlSeconds: opts.markTtl,
      settleMs: opts.settleMs,
      limits: { ...DEFAULT_LIMITS, maxAmountCents: opts.maxAmount },
      hooks: combineHooks(retryHooks(), ledger?.hooks),
    }, opts.concurrency);
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
      ledger?.hooks.release();
      pool.stop();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    log.info(
      `consuming ${opts.stream} as ${opts.group}/${opts.consumerName} on ${
        redactUrl(opts.redisUrl)
      }` +
        ` (${opts.concurrency} loop${opts.concurrency > 1 ? "s" : ""})` +
        (opts.postgresDsn ? `, ledger ${redactUrl(opts.postgresDsn)}` : ""),
    );
    const s = await pool.run();
    if (ledger) {
      const w = await ledger.close();
      log.info(`ledger: ${w.batches} batches written in ${w.flushes} transactions`);
    }
    log.info(
      `stopped: read ${s.read}, confirmed ${s.confirmed}, duplicates ${s.duplicates}, ` +
        `dead-lettered ${s.rejected}, reclaimed ${s.reclaimed}, skipped ${s.skipped}`,
    );
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  });

if (import.meta.main) await runCommand(program);
