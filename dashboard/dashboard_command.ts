/**
 * `deno task dashboard`: the web dashboard. Listens on 127.0.0.1 unless told otherwise; on any
 * other address it requires an API key (`DASHBOARD_API_KEYS`, else `GATEWAY_API_KEYS`) and refuses
 * to start without one. SIGINT/SIGTERM stop it.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { apiKeysFromEnv, createLogger, requireRedis } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import {
  groupOption,
  idleThresholdOption,
  intIn,
  postgresDsnOption,
  redisUrlOption,
  responsePrefixOption,
  runCommand,
  stopOnSignals,
  streamOption,
} from "@fastpix/cli";
import { isLoopback } from "./auth.ts";
import { DASHBOARD_DEFAULTS as D, serveDashboard } from "./server.ts";

/** Where API keys are read from, first set first. */
export const API_KEY_VARIABLES = ["DASHBOARD_API_KEYS", "GATEWAY_API_KEYS"] as const;

function stallThresholdOption() {
  const option = idleThresholdOption();
  option.description = "idle time past which a consumer holding pending entries is STALLED";
  return option;
}

const program = new Command("dashboard")
  .description(
    "Web dashboard, live: throughput, latency, lag and pending over time; streams, groups and " +
      "consumers; response streams; list designs' lists; dead letters (replay, purge); payment " +
      "lookup by transaction_id; the ledger when POSTGRES_DSN is set. API keys: " +
      "DASHBOARD_API_KEYS or GATEWAY_API_KEYS (comma-separated, required off loopback).",
  )
  .addOption(redisUrlOption())
  .addOption(streamOption())
  .addOption(groupOption())
  .addOption(responsePrefixOption())
  .addOption(stallThresholdOption())
  .addOption(postgresDsnOption())
  .addOption(
    new Option("--port <port>", "port to listen on (0: any free one)").env("DASHBOARD_PORT")
      .default(D.port).argParser(intIn(0, 65535)),
  )
  .addOption(
    new Option("--hostname <address>", "address to listen on (off loopback: API key required)")
      .env("HOST").default(D.hostname),
  )
  .addOption(
    new Option("--interval <seconds>", "refresh interval").default(D.intervalMs / 1000)
      .argParser(intIn(1, 3600)),
  )
  .addOption(
    new Option("--history <minutes>", "minutes the charts cover")
      .default(D.historyPoints * D.intervalMs / 60_000).argParser(intIn(1, 24 * 60)),
  )
  .addOption(
    new Option("--lookup-scan <n>", "entries a lookup reads at most per stream window")
      .env("DASHBOARD_LOOKUP_SCAN").default(D.lookupScan).argParser(intIn(10, 100_000)),
  )
  .addOption(
    new Option("--scan-count <n>", "keys examined per SCAN step (one step per refresh)")
      .default(D.scanCount).argParser(intIn(10, 1_000_000)),
  )
  .action(async (opts) => {
    const log = createLogger("dashboard");
    const { keys, source } = apiKeysFromEnv(API_KEY_VARIABLES);
    if (keys.length === 0 && !isLoopback(opts.hostname)) {
      throw new UserError(
        `Listening on ${opts.hostname} needs an API key: set DASHBOARD_API_KEYS (or ` +
          "GATEWAY_API_KEYS) to one or more comma-separated keys of at least 16 characters, " +
          "or listen on 127.0.0.1",
      );
    }
    await requireRedis(opts.redisUrl);
    const intervalMs = opts.interval * 1000;
    let running;
    try {
      running = await serveDashboard({
        redisUrl: opts.redisUrl,
        stream: opts.stream,
        group: opts.group,
        responsePrefix: opts.responsePrefix,
        idleThresholdMs: opts.idleThresholdMs,
        intervalMs,
        historyPoints: Math.max(2, Math.round(opts.history * 60_000 / intervalMs)),
        scanCount: opts.scanCount,
        lookupScan: opts.lookupScan,
        deadLetterCount: D.deadLetterCount,
        deadLetterScan: D.deadLetterScan,
        postgresDsn: opts.postgresDsn,
        apiKeys: keys,
        hostname: opts.hostname,
        port: opts.port,
        logger: log,
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new UserError(`Cannot listen on port ${opts.port}: it is in use (--port)`);
      }
      throw error;
    }
    if (source) log.info(`API keys from ${source}`);
    const removeSignals = stopOnSignals(
      () => {
        running.stop().then(() => Deno.exit(0));
      },
      log,
      "stopping",
    );
    await running.server.finished;
    removeSignals();
  });

if (import.meta.main) await runCommand(program);
