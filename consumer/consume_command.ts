/**
 * `deno task consume`: the stream consumer. Flags mirror the env vars of DESIGN.md.
 * SIGINT/SIGTERM: stop reading, finish and acknowledge the batch in hand (or, if Redis does not let
 * it within SHUTDOWN_TIMEOUT_MS, leave it pending), say which in one line, exit 0; a second signal
 * exits at once.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import {
  allowEvictionOption,
  blockMsOption,
  consumerBatchSizeOption,
  consumerGcOption,
  consumerNameOption,
  groupOption,
  idleThresholdOption,
  intIn,
  ledgerMaxBacklogOption,
  markTtlOption,
  maxAmountOption,
  maxDeliveriesOption,
  partitionsOfOption,
  partitionsOption,
  postgresConnectTimeoutOption,
  postgresDsnOption,
  postgresIdleTimeoutOption,
  postgresStatementTimeoutOption,
  postgresTimeouts,
  redisClusterOption,
  redisUrlOption,
  resolveMaxDeliveries,
  responseMaxlenOption,
  responsePrefixOption,
  runCommand,
  settleMsOption,
  shutdownTimeoutOption,
  streamMaxlenOption,
  streamOption,
  timestampMaxSkewOption,
  timestampMinOption,
  validationLimits,
  waitForRedisOption,
} from "@fastpix/cli";
import { CONSUMER_GC_MS, createLogger, describeTarget, ownedPartitions } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import { CONSUMER_DEFAULTS } from "./stream_consumer.ts";
import { SHUTDOWN_TIMEOUT_MS, stopOnSignalsBounded } from "./shutdown.ts";
import { redisReadyForConsumer } from "./start.ts";

/** How long the ledger may drain its outbox into PostgreSQL once the consumers stopped. */
const LEDGER_DRAIN_MS = 5000;
import { ConsumerPool } from "./consumer_pool.ts";
import { combineHooks } from "./batch_hooks.ts";
import { retryHooks } from "./retries.ts";
import { Ledger } from "./ledger/mod.ts";

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
  .addOption(timestampMinOption())
  .addOption(timestampMaxSkewOption())
  .addOption(
    new Option("--concurrency <n>", "consumer loops in this process").env("CONCURRENCY")
      .default(1).argParser(intIn(1, 64)),
  )
  .addOption(consumerBatchSizeOption(CONSUMER_DEFAULTS.batchSize))
  .addOption(blockMsOption(CONSUMER_DEFAULTS.blockMs))
  .addOption(markTtlOption(CONSUMER_DEFAULTS.markTtlSeconds))
  .addOption(settleMsOption())
  .addOption(postgresDsnOption())
  .addOption(postgresConnectTimeoutOption())
  .addOption(postgresStatementTimeoutOption())
  .addOption(postgresIdleTimeoutOption())
  .addOption(ledgerMaxBacklogOption())
  .addOption(shutdownTimeoutOption(SHUTDOWN_TIMEOUT_MS))
  .addOption(waitForRedisOption())
  .addOption(allowEvictionOption())
  .addOption(consumerGcOption(CONSUMER_GC_MS))
  .action(async (opts) => {
    const log = createLogger("consume");
    const target = { url: opts.redisUrl, cluster: opts.redisCluster };
    const owned = ownedPartitions(opts.partitions, opts.partitionsOf);
    const maxDeliveries = resolveMaxDeliveries(
      opts.maxDeliveries,
      program.getOptionValueSource("maxDeliveries"),
    );
    if (opts.postgresDsn && (opts.partitions > 0 || opts.redisCluster)) {
      throw new UserError(
        "The PostgreSQL ledger works with the single-stream layout only: unset POSTGRES_DSN, or REDIS_CLUSTER and PARTITIONS",
      );
    }
    // PostgreSQL failing in a way no retry heals (a wrong password, a dropped database) stops the
    // consumers and ends the process with that one line.
    let fatal: string | undefined;
    let stopAll = () => {};
    const ledger = opts.postgresDsn
      ? await Ledger.open({
        dsn: opts.postgresDsn,
        redisUrl: opts.redisUrl,
        stream: opts.stream,
        consumerName: opts.consumerName,
        maxBacklog: opts.ledgerMaxBacklog,
        claimIdleMs: opts.idleThresholdMs,
        timeouts: postgresTimeouts(opts),
        onFatal: (reason) => {
          fatal = reason;
          stopAll();
        },
      })
      : undefined;
    if (!await redisReadyForConsumer(target, opts, log)) {
      if (ledger) Deno.exit(0); // nothing was consumed: nothing to drain
      return;
    }
    const pool = new ConsumerPool(
      {
        redisUrl: opts.redisUrl,
        redisCluster: opts.redisCluster,
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
        shutdownTimeoutMs: opts.shutdownTimeoutMs,
        consumerGcMs: opts.consumerGcMs,
        limits: validationLimits(opts),
        hooks: combineHooks(retryHooks(), ledger?.hooks),
      },
      opts.concurrency,
      { count: opts.partitions, owned },
    );
    stopAll = () => {
      ledger?.hooks.release();
      pool.stop();
    };
    if (fatal !== undefined) stopAll();
    const stopped = stopOnSignalsBounded(pool, log, {
      timeoutMs: opts.shutdownTimeoutMs,
      graceMs: ledger ? LEDGER_DRAIN_MS : 0,
      onStop: () => ledger?.hooks.release(),
    });
    const what = opts.partitions === 0
      ? opts.stream
      : `partitions ${owned.join(",")} of ${opts.partitions} of ${opts.stream}`;
    log.info(
      `consuming ${what} as ${opts.group}/${opts.consumerName} on ${describeTarget(target)}` +
        ` (${pool.consumers.length} loop${pool.consumers.length > 1 ? "s" : ""})` +
        (ledger ? `, ledger ${ledger.db.where}` : ""),
    );
    const s = await pool.run();
    if (ledger) {
      // Drains the outbox for up to 5 s while PostgreSQL answers; the rest waits in Redis.
      const w = await ledger.close(fatal === undefined ? LEDGER_DRAIN_MS : 0);
      log.info(`ledger: ${w.batches} batches written in ${w.flushes} transactions`);
    }
    log.info(
      `stopped: read ${s.read}, confirmed ${s.confirmed}, duplicates ${s.duplicates}, ` +
        `dead-lettered ${s.rejected}, reclaimed ${s.reclaimed}, skipped ${s.skipped}`,
    );
    if (fatal !== undefined) throw new UserError(fatal);
    stopped();
    // Connections to a PostgreSQL that stopped answering may still be open (they close when it
    // answers again); nothing is left to do, so they must not hold the exit.
    if (ledger) Deno.exit(0);
  });

if (import.meta.main) await runCommand(program);
