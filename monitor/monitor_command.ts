/**
 * `deno task monitor`: the real-time monitor. Full screen on a terminal; `--once` prints one plain
 * snapshot and `--json` the same as JSON, for scripts and tests.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { createRedis, type Logger, sleep } from "@fastpix/infra";
import {
  groupOption,
  idleThresholdOption,
  intIn,
  postgresDsnOption,
  redisListOption,
  redisUrlOption,
  responsePrefixOption,
  runCommand,
  streamOption,
} from "@fastpix/cli";
import { UserError } from "@fastpix/pix";
import { snapshot, SnapshotState } from "./snapshot.ts";
import { ledgerStatsReader } from "@fastpix/consumer";
import { renderPlain } from "./render.ts";
import { runTui } from "./tui.ts";

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
  .action(async (opts) => {
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
      Deno.exit(0);
    }
    // One-off: read everything (a complete SCAN pass), then read the counters again one interval
    // later so the processing rate is a measured one.
    const redis = createRedis(opts.redisUrl, {
      name: "fastpix-monitor",
      failFast: true,
      logger: SILENT,
    });
    const state = new SnapshotState(opts.responsePrefix, opts.scanCount, opts.redisList);
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
