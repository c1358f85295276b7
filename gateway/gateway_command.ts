/**
 * `deno task gateway`: the HTTP ingress. Flags mirror env vars (`PORT`, `GATEWAY_DESIGN`, ...).
 * SIGINT/SIGTERM: stop accepting, answer what is in flight, flush the batches, exit 0.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { createLogger, redactUrl, requireRedis } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import {
  groupOption,
  httpLimitsOf,
  intIn,
  maxAmountOption,
  parseBoolean,
  redisUrlOption,
  responsePrefixOption,
  runCommand,
  stopOnSignals,
  streamOption,
  timestampMaxSkewOption,
  timestampMinOption,
  validationLimits,
  withHttpLimitOptions,
} from "@fastpix/cli";
import { DESIGN_NAMES, type DesignName } from "@fastpix/queue";
import { GATEWAY_DEFAULTS, serveGateway } from "./server.ts";

const program = withHttpLimitOptions(new Command("gateway"))
  .description("HTTP ingress: POST /pix/payments, GET /health, GET /metrics.")
  .addOption(redisUrlOption())
  .addOption(
    new Option("--design <design>", "queue design for requests that name none (?design=)")
      .env("GATEWAY_DESIGN").choices(DESIGN_NAMES).default("stream" as DesignName),
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
    new Option("--num-lists <n>", "list designs: spread payments over source_list_0..n-1")
      .env("NUM_LISTS").default(1).argParser(intIn(1, 1024)),
  )
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
  .action(async (opts) => {
    const log = createLogger("gateway");
    await requireRedis(opts.redisUrl);
    let running;
    try {
      running = await serveGateway({
        redisUrl: opts.redisUrl,
        design: opts.design,
        target: { stream: opts.stream, group: opts.group, numLists: opts.numLists },
        responsePrefix: opts.responsePrefix,
        maxBodyBytes: opts.maxBodyBytes,
        waitTimeoutMs: opts.waitTimeoutMs,
        limits: validationLimits(opts),
        batchMax: opts.batchMax,
        batchDelayMs: opts.batchDelayMs,
        port: opts.port,
        hostname: opts.hostname,
        reusePort: opts.reusePort,
        http: httpLimitsOf(opts, opts.maxBodyBytes),
        logger: log,
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new UserError(`Cannot listen on port ${opts.port}: it is in use`);
      }
      throw error;
    }
    log.info(
      `listening on ${running.url} (design ${opts.design}, Redis ${redactUrl(opts.redisUrl)})`,
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
