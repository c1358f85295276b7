/**
 * `deno task monitor`: the real-time monitor. Full screen on a terminal; `--once` prints one plain
 * snapshot and `--json` the same as JSON, for scripts and tests. `--metrics-port` also serves the
 * snapshot as Prometheus metrics (the queue exporter); without a terminal, or with `--no-tui`, it
 * runs headless until SIGINT or SIGTERM.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { createLogger, createRedis, type Logger, redactUrl, sleep } from "@fastpix/infra";
import {
  groupOption,
  idleThresholdOption,
  intIn,
  ledgerMaxBacklogOption,
  postgresDsnOption,
  redisListOption,
  redisUrlOption,
  responsePrefixOption,
  runCommand,
  stopOnSignals,
  streamOption,
} from "@fastpix/cli";
import { UserError } from "@fastpix/pix";
import { snapshot, SnapshotState } from "./snapshot.ts";
import { ledgerStatsReader } from "@fastpix/consumer";
import { renderPlain } from "./render.ts";
import { runTui } from "./tui.ts";
import { METRICS_DEFAULTS, type RunningExporter, serveExporter } from "./exporter.ts";

/** Parser for seconds given as a decimal in `[min, max]`, returned in milliseconds. */
function secondsIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text.trim()) || value < min || value > max) {
      throw new InvalidArgumentError(`Expected seconds from ${min} to ${max}, such as 0.5.`);
    }
    return Math.round(value * 1000);
  };
}

/** `IDLE_THRESHOLD_MS`, read here as the idle time that makes a consumer holding entries stalled. */
function stallThresholdOption() {
  const option = idleThresholdOption();
  option.description = "idle time past which a consumer holding pending entries is stalled";
  return option;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const program = new Command("monitor")
  .description(
    "Watch the PIX pipeline live: processor status, stream, consumer groups, response streams, " +
      "dead letters, latency and list designs' queues. q or Ctrl+C quits.",
  )
  .addOption(redisUrlOption())
  .addOption(streamOption())
  .addOption(groupOption())
  .addOption(responsePrefixOption())
  .addOption(
    Object.assign(redisListOption(), {
      description: "base name of the list designs' queues: <base>_<i> and {<base>_<i>} are shown",
    }),
  )
  .addOption(stallThresholdOption())
  .addOption(
    new Option("--interval <seconds>", "refresh interval").default(500, "0.5")
      .argParser(secondsIn(0.05, 3600)),
  )
  .addOption(
    new Option("--rate-window <seconds>", "window of the processing rate").default(5000, "5")
      .argParser(secondsIn(0.1, 3600)),
  )
  .addOption(
    new Option("--scan-count <n>", "keys examined per SCAN step (one step per refresh)")
      .default(5000).argParser(intIn(10, 1_000_000)),
  )
  .addOption(postgresDsnOption())
  .option("--once", "print one plain snapshot and exit", false)
  .option("--json", "print one snapshot as JSON and exit", false)
  .addOption(
    new Option("--metrics-port <port>", "serve Prometheus metrics on this port (0: any free one)")
      .env("MONITOR_METRICS_PORT").argParser(intIn(0, 65535)),
  )
  .addOption(
    new Option("--hostname <address>", "address the metrics are served on")
      .env("MONITOR_METRICS_HOST").default("127.0.0.1"),
  )
  .option("--no-tui", "with --metrics-port: no live screen even on a terminal")
  .addOption(
    new Option("--metrics-top <n>", "response streams exported one by one (the rest summed)")
      .default(METRICS_DEFAULTS.top).argParser(intIn(0, 1000)),
  )
  .addOption(ledgerMaxBacklogOption())
  .action(async (opts) => {
    if (opts.metricsPort !== undefined && (opts.once || opts.json)) {
      throw new UserError("--metrics-port serves metrics until stopped: leave out --once/--json");
    }
    // With a ledger, its statistics are one more panel (read every 2 s at most).
    const ledger = opts.postgresDsn ? ledgerStatsReader(opts.postgresDsn) : undefined;
    const read = {
      ledger: ledger?.read,
      redisUrl: opts.redisUrl,
      stream: opts.stream,
      group: opts.group,
      responsePrefix: opts.responsePrefix,
      listBase: opts.redisList,
      idleThresholdMs: opts.idleThresholdMs,
    };
    let exporter: RunningExporter | undefined;
    if (opts.metricsPort !== undefined) {
      try {
        exporter = await serveExporter({
          ...read,
          port: opts.metricsPort,
          hostname: opts.hostname,
          intervalMs: opts.interval,
          scanCount: opts.scanCount,
          metrics: { top: opts.metricsTop, ledgerMaxBacklog: opts.ledgerMaxBacklog },
        });
      } catch (error) {
        if (error instanceof Deno.errors.AddrInUse) {
          throw new UserError(`Cannot listen on port ${opts.metricsPort}: it is in use`);
        }
        throw error;
      }
      const headless = !opts.tui || !Deno.stdout.isTerminal();
      const line = `serving metrics on ${exporter.url}/metrics (Redis ${redactUrl(opts.redisUrl)})`;
      if (headless) {
        const log = createLogger("monitor");
        log.info(line);
        const running = exporter;
        const stopped = Promise.withResolvers<void>();
        const removeSignals = stopOnSignals(() => stopped.resolve(), log, "stopping the exporter");
        await stopped.promise;
        removeSignals();
        await running.stop();
        await ledger?.close();
        Deno.exit(0);
      }
    }
    if (!opts.once && !opts.json) {
      if (!Deno.stdout.isTerminal()) {
        throw new UserError("The live monitor needs a terminal: use --once or --json to print");
      }
      await runTui({
        ...read,
        intervalMs: opts.interval,
        rateWindowMs: opts.rateWindow,
        scanCount: opts.scanCount,
      });
      await exporter?.stop();
      Deno.exit(0);
    }
    // One-off: read everything (a complete SCAN pass), then read the counters again one interval
    // later so the processing rate is a measured one.
    const redis = createRedis(opts.redisUrl, {
      name: "fastpix-monitor",
      failFast: true,
      logger: SILENT,
    });
    const state = new SnapshotState(opts.responsePrefix, opts.scanCount, {
      listBase: opts.redisList,
    });
    const first = await snapshot(redis, { ...read, state, completeScan: true });
    let snap = first;
    let rate: number | null = null;
    if (first.available) {
      const t0 = performance.now();
      await sleep(opts.interval);
      const second = await snapshot(redis, { ...read, state, completeScan: true });
      if (second.available) {
        snap = second;
        const seconds = (performance.now() - t0) / 1000;
        rate = (second.counters.processed - first.counters.processed) / seconds;
      }
    }
    redis.disconnect();
    await ledger?.close();
    if (opts.json) {
      console.log(JSON.stringify(
        { ...snap, processingRate: { perSecond: rate, windowMs: opts.interval } },
        null,
        2,
      ));
    } else {
      console.log(renderPlain(snap, {
        rate: rate ?? undefined,
        rateWindowMs: opts.interval,
      }));
    }
    if (!snap.available) Deno.exit(2);
  });

if (import.meta.main) await runCommand(program);
