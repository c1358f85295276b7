/**
 * `deno task gateway`: the HTTP ingress. Flags mirror env vars (`PORT`, `GATEWAY_DESIGN`, ...).
 * SIGINT/SIGTERM: stop accepting, answer what is in flight, flush the batches, exit 0.
 * `--workers N` claims the port and runs N gateway processes sharing it (SO_REUSEPORT among them
 * only); a gateway alone keeps its port to itself, so a second one on the same port stops with one
 * line instead of silently taking part of the traffic.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { createLogger, redactUrl, requireRedis } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import {
  groupOption,
  httpLimitsOf,
  intIn,
  listNaming,
  maxAmountOption,
  parseBoolean,
  portStackOption,
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
  withHttpLimitOptions,
} from "@fastpix/cli";
import {
  ApiKeys,
  checkStack,
  claimPort,
  parseApiKeys,
  type PortClaim,
  watchStack,
} from "@fastpix/http";
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

/** Reads a PEM file named by `--cert` / `--key`, or says in one line why it cannot. */
function readPem(path: string, flag: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new UserError(`${flag} ${path}: cannot read it (${(error as Error).message})`);
  }
  if (!text.includes("-----BEGIN ")) throw new UserError(`${flag} ${path}: not a PEM file`);
  return text;
}

/**
 * `--workers N`: claims the port, starts N gateway processes of this stack (this command's own
 * arguments, `--workers 1 --port-stack <id>`), passes SIGINT/SIGTERM on, and ends when they do;
 * when one of them exits on its own, the others are stopped and the command exits 1.
 */
async function runWorkers(workers: number, port: number, hostname: string): Promise<never> {
  const log = createLogger("gateway");
  const claim: PortClaim = await claimPort(port, hostname, `gateway --workers ${workers}`);
  const script = new URL(import.meta.url).pathname;
  const children = Array.from({ length: workers }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...Deno.args, "--workers", "1", "--port-stack", claim.stack],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn());
  log.info(`started ${workers} gateway processes on port ${port}: ${children.map((c) => c.pid)}`);
  let stopping = false;
  const stopAll = (signal: Deno.Signal) => {
    for (const child of children) {
      try {
        child.kill(signal);
      } catch { /* gone */ }
    }
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stopping = true;
      stopAll(signal);
    });
  }
  const codes = await new Promise<number[]>((resolve) => {
    const done: number[] = [];
    for (const child of children) {
      child.status.then(({ code }) => {
        if (!stopping) {
          stopping = true;
          log.error(`gateway process ${child.pid} exited with code ${code}: stopping the others`);
          stopAll("SIGTERM");
          code = code === 0 ? 1 : code;
        }
        done.push(code);
        if (done.length === children.length) resolve(done);
      });
    }
  });
  claim.release();
  Deno.exit(Math.max(...codes));
}

const program = withHttpLimitOptions(new Command("gateway"))
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
    new Option("--workers <n>", "gateway processes sharing the port (one stack)")
      .env("GATEWAY_WORKERS").default(1).argParser(intIn(1, 256)),
  )
  .addOption(portStackOption())
  .addOption(
    new Option("--cert <file>", "PEM certificate chain: serve HTTPS (with --key)")
      .env("TLS_CERT_FILE"),
  )
  .addOption(new Option("--key <file>", "PEM private key of --cert").env("TLS_KEY_FILE"))
  .addOption(
    new Option(
      "--api-keys <keys>",
      "comma-separated keys; every route but /health then needs one (Bearer or X-API-Key)",
    ).env("GATEWAY_API_KEYS"),
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
    if (Deno.env.get("REUSE_PORT") !== undefined) {
      log.warn(
        "REUSE_PORT is no longer read: to share the port, start one gateway with --workers N",
      );
    }
    if ((opts.cert === undefined) !== (opts.key === undefined)) {
      throw new UserError("--cert (TLS_CERT_FILE) and --key (TLS_KEY_FILE) go together: set both");
    }
    const tls = opts.cert !== undefined && opts.key !== undefined
      ? { cert: readPem(opts.cert, "--cert"), key: readPem(opts.key, "--key") }
      : undefined;
    let apiKeys: ApiKeys | undefined;
    if (opts.apiKeys !== undefined) {
      // Checked here, not by an argument parser, so an error line never repeats the value.
      const parsed = parseApiKeys(opts.apiKeys);
      if ("problem" in parsed) {
        throw new UserError(`--api-keys (GATEWAY_API_KEYS): ${parsed.problem}`);
      }
      apiKeys = await ApiKeys.of(parsed.keys);
    }
    if (opts.workers > 1) {
      if (opts.port === 0) throw new UserError("--workers needs a fixed --port");
      if (opts.portStack !== undefined) {
        throw new UserError("--workers and --port-stack exclude each other");
      }
      await requireRedis(opts.redisUrl);
      return await runWorkers(opts.workers, opts.port, opts.hostname);
    }
    const stack = opts.portStack;
    if (stack !== undefined) checkStack(opts.port, stack);
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
        reusePort: stack !== undefined,
        http: httpLimitsOf(opts, opts.maxBodyBytes),
        tls,
        apiKeys,
        logger: log,
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new UserError(
          `Cannot listen on port ${opts.port}: it is in use (several gateway processes on one ` +
            "port: start one gateway with --workers N)",
        );
      }
      if (tls !== undefined && !(error instanceof UserError)) {
        throw new UserError(`Cannot serve TLS with --cert/--key: ${(error as Error).message}`);
      }
      throw error;
    }
    const loopback = /^(127\.|::1$|localhost$)/.test(opts.hostname);
    if (!loopback && (tls === undefined || apiKeys === undefined)) {
      log.warn(
        `listening on ${opts.hostname} ${tls === undefined ? "without TLS" : "with TLS"} and ${
          apiKeys === undefined ? "without API keys" : `${apiKeys.size} API key(s)`
        }: put it behind a proxy that terminates TLS and authenticates, or set --cert/--key and --api-keys`,
      );
    }
    log.info(
      `listening on ${running.url} (designs ${running.gateway.allowedDesigns.join(",")}, Redis ${
        redactUrl(opts.redisUrl)
      }${apiKeys === undefined ? "" : `, ${apiKeys.size} API key(s)`})`,
    );
    if (stack !== undefined) {
      watchStack(opts.port, stack, () => {
        log.warn("the command that started this stack is gone: stopping");
        running.stop().then(() => Deno.exit(0));
      });
    }
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
