/**
 * `deno task gateway`: the HTTP ingress. Flags mirror env vars (`PORT`, `GATEWAY_DESIGN`, ...).
 * SIGINT/SIGTERM: stop accepting, answer what is in flight, flush the batches, exit 0.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { createLogger, redactUrl, requireRedis } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import {
  groupOption,
  intIn,
  listNaming,
  maxAmountOption,
  parseBoolean,
  redisListOption,
  redisUrlOption,
  responsePrefixOption,
  runCommand,
  stopOnSignals,
  streamOption,
  timestampMaxSkewOption,
  timestampMinOption,
  useHashtagOption,
  validationLimits,
} from "@fastpix/cli";
import { DESIGN_NAMES, type DesignName, isDesignName } from "@fastpix/queue";
import { allowedDesignsProblem, GATEWAY_DEFAULTS, serveGateway } from "./server.ts";

/** Parser for `--allowed-designs`: comma-separated design names. */
function parseDesigns(text: string): DesignName[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = names.find((n) => !isDesignName(n));
  if (bad !== undefined || names.length === 0) {
    throw new InvalidArgumentError(
      `Expected a comma-separated list of ${DESIGN_NAMES.join(", ")}` +
        (bad === undefined ? "." : ` (${JSON.stringify(bad.slice(0, 40))} is none).`),
    );
  }
  return [...new Set(names as DesignName[])];
}

const program = new Command("gateway")
  .description("HTTP ingress: POST /pix/payments, GET /health, GET /metrics.")
  .addOption(redisUrlOption())
  .addOption(
    new Option("--design <design>", "queue design for requests that name none (?design=)")
      .env("GATEWAY_DESIGN").choices(DESIGN_NAMES).default("stream" as DesignName),
  )
  .addOption(
    new Option(
      "--allowed-designs <list>",
      "designs a request may name with ?design= (comma-separated; default: just --design)",
    ).env("ALLOWED_DESIGNS").argParser(parseDesigns),
  )
  .addOption(
    new Option("--port <port>", "port to listen on").env("PORT").default(GATEWAY_DEFAULTS.port)
      .argParser(intIn(0, 65535)),
  )
  .addOption(
    new Option("--hostname <address>", "address to listen on").env("HOST").default("0.0.0.0"),
  )
  .addOption(
    new Option("--reuse-port <bool>", "let several gateway processes share the port")
      .env("REUSE_PORT").default(true).argParser(parseBoolean),
  )
  .addOption(streamOption())
  .addOption(groupOption())
  .addOption(responsePrefixOption())
  .addOption(
    new Option("--num-lists <n>", "list designs: spread payments over <base>_0..n-1")
      .env("NUM_LISTS").default(1).argParser(intIn(1, 1024)),
  )
  .addOption(redisListOption())
  .addOption(useHashtagOption())
  .addOption(maxAmountOption())
  .addOption(timestampMinOption())
  .addOption(timestampMaxSkewOption())
  .addOption(
    new Option("--max-body-bytes <n>", "larger request bodies get 413").env("MAX_BODY_BYTES")
      .default(GATEWAY_DEFAULTS.maxBodyBytes).argParser(intIn(256, 16 * 1024 * 1024)),
  )
  .addOption(
    new Option("--wait-timeout-ms <ms>", "wait=true answers 504 after this").env("WAIT_TIMEOUT_MS")
      .default(GATEWAY_DEFAULTS.waitTimeoutMs).argParser(intIn(1, 600_000)),
  )
  .addOption(
    new Option("--batch-max <n>", "most payments per enqueue call (1: no batching)")
      .env("ENQUEUE_BATCH_MAX").default(GATEWAY_DEFAULTS.batchMax).argParser(intIn(1, 10_000)),
  )
  .addOption(
    new Option("--batch-delay-ms <ms>", "longest a payment waits to share an enqueue call")
      .env("ENQUEUE_BATCH_DELAY_MS").default(GATEWAY_DEFAULTS.batchDelayMs)
      .argParser(intIn(0, 1000)),
  )
  .addOption(
    new Option("--max-waiters <n>", "most wait=true requests waiting at once; more get 503")
      .env("MAX_WAITERS").default(GATEWAY_DEFAULTS.maxWaiters).argParser(intIn(1, 1_000_000)),
  )
  .addOption(
    new Option(
      "--max-watched-backends <n>",
      "most backends whose confirmation streams are read at once for wait=true; more get 503",
    ).env("MAX_WATCHED_BACKENDS").default(GATEWAY_DEFAULTS.maxWatchedBackends)
      .argParser(intIn(1, 1_000_000)),
  )
  .addOption(
    new Option(
      "--watch-idle-ms <ms>",
      "a backend's confirmation stream nobody waited on for this long stops being read",
    ).env("WATCH_IDLE_MS").default(GATEWAY_DEFAULTS.watchIdleMs).argParser(intIn(1, 86_400_000)),
  )
  .addOption(
    new Option(
      "--max-queue-lag <n>",
      "payments waiting in the queue (undelivered plus pending) past which new ones get 503 (0: no limit)",
    ).env("MAX_QUEUE_LAG").default(GATEWAY_DEFAULTS.maxQueueLag).argParser(intIn(0, 2 ** 40)),
  )
  .addOption(
    new Option(
      "--health-details [bool]",
      "/health and 503 bodies name the Redis address and its errors",
    ).env("HEALTH_DETAILS").default(false).preset(true).argParser(parseBoolean),
  )
  .action(async (opts) => {
    const log = createLogger("gateway");
    const problem = allowedDesignsProblem(opts.design, opts.allowedDesigns);
    if (problem !== undefined) throw new UserError(problem);
    await requireRedis(opts.redisUrl);
    let running;
    try {
      running = await serveGateway({
        redisUrl: opts.redisUrl,
        design: opts.design,
        allowedDesigns: opts.allowedDesigns,
        target: {
          stream: opts.stream,
          group: opts.group,
          numLists: opts.numLists,
          listNaming: listNaming(opts),
        },
        responsePrefix: opts.responsePrefix,
        maxBodyBytes: opts.maxBodyBytes,
        waitTimeoutMs: opts.waitTimeoutMs,
        limits: validationLimits(opts),
        batchMax: opts.batchMax,
        batchDelayMs: opts.batchDelayMs,
        maxWaiters: opts.maxWaiters,
        maxWatchedBackends: opts.maxWatchedBackends,
        watchIdleMs: opts.watchIdleMs,
        maxQueueLag: opts.maxQueueLag,
        healthDetails: opts.healthDetails,
        port: opts.port,
        hostname: opts.hostname,
        reusePort: opts.reusePort,
        logger: log,
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new UserError(`Cannot listen on port ${opts.port}: it is in use`);
      }
      throw error;
    }
    log.info(
      `listening on ${running.url} (designs ${running.gateway.allowedDesigns.join(",")}, Redis ${
        redactUrl(opts.redisUrl)
      })`,
    );
    const removeSignals = stopOnSignals(
      () => {
        running.stop().then(() => Deno.exit(0));
      },
      log,
      "stopping: answering requests in flight (signal again to exit now)",
    );
    await running.server.finished;
    removeSignals();
  });

if (import.meta.main) await runCommand(program);
