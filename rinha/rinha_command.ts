/**
 * `deno task rinha`: the Rinha de Backend 2025 backend. With no subcommand it starts everything:
 * Redis (REDIS_URL, or a private redis-server), two processor simulators when no
 * PROCESSOR_*_URL is given, the routing workers, and the API processes sharing port 9999 with
 * `reusePort` (the port claimed for this stack first: a second stack on it stops with one line).
 * `rinha api` and `rinha worker` run one process of each kind (a lone `rinha api` has its port to
 * itself).
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { ChildTool, type ChildToolOptions, RedisServer } from "@fastpix/testing";
import { createLogger, redactUrl, requireRedis, sleep } from "@fastpix/infra";
import {
  httpLimitArgs,
  httpLimitsOf,
  idleThresholdOption,
  intIn,
  parseHttpUrl,
  parseRedisUrl,
  portStackOption,
  redisUrlOption,
  runCommand,
  withHttpLimitOptions,
} from "@fastpix/cli";
import { checkStack, claimPort, type PortClaim, watchStack } from "@fastpix/http";
import { UserError } from "@fastpix/pix";
import { MAX_BODY_BYTES, RinhaApi } from "./api.ts";
import { DEFAULT_POLICY } from "./router.ts";
import { RinhaWorker, WORKER_DEFAULTS } from "./worker.ts";

function parsePortPair(text: string): [number, number] {
  const ports = text.split(",").map((p) => Number(p.trim()));
  if (ports.length !== 2 || !ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) {
    throw new InvalidArgumentError("Expected two ports such as 8001,8002.");
  }
  return [ports[0], ports[1]];
}

const defaultUrlOption = () =>
  new Option("--processor-default-url <url>", "default payment processor")
    .env("PROCESSOR_DEFAULT_URL").argParser(parseHttpUrl);
const fallbackUrlOption = () =>
  new Option("--processor-fallback-url <url>", "fallback payment processor")
    .env("PROCESSOR_FALLBACK_URL").argParser(parseHttpUrl);

const portOption = () =>
  new Option("--port <port>", "API port").env("RINHA_PORT").default(9999).argParser(
    intIn(1, 65535),
  );
const hostnameOption = () =>
  new Option("--hostname <host>", "API address").env("RINHA_HOSTNAME").default("127.0.0.1");
const maxBodyOption = () =>
  new Option("--max-body-bytes <n>", "larger request bodies get 413 (declared or streamed)")
    .env("MAX_BODY_BYTES").default(MAX_BODY_BYTES).argParser(intIn(256, 16 * 1024 * 1024));

/** Adds the worker's tuning flags (shared by `worker` and the all-in-one `start`). */
// deno-lint-ignore ban-types
function withWorkerOptions<A extends unknown[], O extends {}, G extends {}>(
  command: Command<A, O, G>,
) {
  return command
    .addOption(idleThresholdOption())
    .addOption(
      new Option("--concurrency <n>", "payment requests in flight per worker")
        .env("RINHA_CONCURRENCY").default(WORKER_DEFAULTS.concurrency).argParser(intIn(1, 10_000)),
    )
    .addOption(
      new Option("--request-timeout-ms <ms>", "after this, a payment's outcome is unknown")
        .env("RINHA_REQUEST_TIMEOUT_MS").default(WORKER_DEFAULTS.requestTimeoutMs)
        .argParser(intIn(1, 600_000)),
    )
    .addOption(
      new Option("--health-interval-ms <ms>", "at most one health call per processor per this")
        .env("HEALTH_INTERVAL_MS").default(WORKER_DEFAULTS.healthIntervalMs)
        .argParser(intIn(1, 3_600_000)),
    )
    .addOption(
      new Option("--attempts-per-second <n>", "most payment attempts a worker starts per second")
        .env("RINHA_ATTEMPTS_PER_SECOND").default(WORKER_DEFAULTS.attemptsPerSecond)
        .argParser(intIn(1, 1_000_000)),
    )
    .addOption(
      new Option("--fallback-after-ms <ms>", "how long a payment waits for a down default")
        .env("RINHA_FALLBACK_AFTER_MS").default(DEFAULT_POLICY.fallbackAfterMs)
        .argParser(intIn(0, 3_600_000)),
    );
}

const log = createLogger("rinha");

function onStopSignal(handler: () => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, handler);
}

const apiCommand = withHttpLimitOptions(new Command("api"))
  .description("Run one API process (with --port-stack: one of a stack's, sharing the port).")
  .addOption(redisUrlOption())
  .addOption(portOption())
  .addOption(hostnameOption())
  .addOption(maxBodyOption())
  .addOption(portStackOption())
  .action(async (opts) => {
    const stack = opts.portStack;
    if (stack !== undefined) checkStack(opts.port, stack);
    await requireRedis(opts.redisUrl);
    let api: RinhaApi;
    try {
      api = await RinhaApi.start({
        redisUrl: opts.redisUrl,
        port: opts.port,
        hostname: opts.hostname,
        reusePort: stack !== undefined,
        limits: httpLimitsOf(opts, opts.maxBodyBytes),
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new UserError(`Cannot listen on port ${opts.port}: it is in use; pass --port`);
      }
      throw error;
    }
    log.info(`api listening on http://${opts.hostname}:${api.port} (pid ${Deno.pid})`);
    await new Promise<void>((resolve) => {
      onStopSignal(resolve);
      if (stack !== undefined) {
        watchStack(opts.port, stack, () => {
          log.warn(`the command that started this stack is gone: stopping`);
          resolve();
        });
      }
    });
    await api.close();
    Deno.exit(0);
  });

const workerCommand = withWorkerOptions(new Command("worker"))
  .description("Run one routing worker (pays queued payments; one of them checks health).")
  .addOption(redisUrlOption())
  .addOption(defaultUrlOption().default("http://127.0.0.1:8001"))
  .addOption(fallbackUrlOption().default("http://127.0.0.1:8002"))
  .addOption(
    new Option("--consumer-name <name>", "name in the group").env("CONSUMER_NAME")
      .default(`rinha_worker_${Deno.hostname()}_${Deno.pid}`, "rinha_worker_<host>_<pid>"),
  )
  .action(async (opts) => {
    await requireRedis(opts.redisUrl);
    const worker = new RinhaWorker({
      ...WORKER_DEFAULTS,
      redisUrl: opts.redisUrl,
      processorUrls: { default: opts.processorDefaultUrl, fallback: opts.processorFallbackUrl },
      consumerName: opts.consumerName,
      concurrency: opts.concurrency,
      requestTimeoutMs: opts.requestTimeoutMs,
      idleThresholdMs: opts.idleThresholdMs,
      healthIntervalMs: opts.healthIntervalMs,
      attemptsPerSecond: opts.attemptsPerSecond,
      policy: { ...DEFAULT_POLICY, fallbackAfterMs: opts.fallbackAfterMs },
    });
    onStopSignal(() => worker.stop());
    log.info(
      `worker ${opts.consumerName} paying through ${opts.processorDefaultUrl} and ${opts.processorFallbackUrl}`,
    );
    const stats = await worker.run();
    log.info(`worker ${opts.consumerName} stopped: ${JSON.stringify(stats)}`);
    Deno.exit(0);
  });

/** Polls `url` until it answers (any HTTP status), or throws after `timeoutMs`. */
async function waitForHttp(url: string, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new UserError(`${what} did not answer at ${url} within ${timeoutMs / 1000} s`);
}

const startCommand = withHttpLimitOptions(withWorkerOptions(new Command("start")))
  .description("Start everything: Redis, processors (unless given), workers and APIs.")
  .addOption(
    new Option("--redis-url <url>", "Redis to use (default: a private redis-server)")
      .env("REDIS_URL").argParser(parseRedisUrl),
  )
  .addOption(defaultUrlOption())
  .addOption(fallbackUrlOption())
  .addOption(portOption())
  .addOption(hostnameOption())
  .addOption(maxBodyOption())
  .addOption(
    new Option("--apis <n>", "API processes sharing the port").env("RINHA_APIS").default(2)
      .argParser(intIn(1, 64)),
  )
  .addOption(
    new Option("--workers <n>", "worker processes").env("RINHA_WORKERS").default(2)
      .argParser(intIn(1, 64)),
  )
  .addOption(
    new Option("--worker-nice <n>", "niceness of workers and simulators (the APIs keep 0)")
      .env("RINHA_WORKER_NICE").default(10).argParser(intIn(0, 19)),
  )
  .addOption(
    new Option("--simulator-ports <default,fallback>", "ports of the started simulators")
      .default([8001, 8002] as [number, number], "8001,8002").argParser(parsePortPair),
  )
  .action(async (opts) => {
    // First of all: the port is this stack's, or nothing starts.
    const claim: PortClaim = await claimPort(opts.port, opts.hostname, "rinha start");
    const children: { tool: ChildTool; what: string }[] = [];
    let redis: RedisServer | undefined;
    let stopping = false;
    const stopAll = async () => {
      stopping = true;
      for (const c of children) c.tool.kill("SIGTERM");
      await Promise.all(children.map((c) => c.tool.finished()));
      await redis?.stop();
      claim.release();
    };
    onStopSignal(() => {
      if (!stopping) void stopAll().then(() => Deno.exit(0));
    });
    const spawn = (script: string, args: string[], what: string, options: ChildToolOptions) => {
      const tool = new ChildTool(script, { args, echo: true, ...options });
      children.push({ tool, what });
      tool.finished().then(({ code }) => {
        if (stopping) return;
        log.error(`${what} exited with code ${code}: stopping everything`);
        void stopAll().then(() => Deno.exit(1));
      });
    };

    try {
      let redisUrl = opts.redisUrl;
      if (redisUrl === undefined) {
        const dir = new URL("../.fastpix/redis-rinha/", import.meta.url).pathname;
        redis = await RedisServer.start({ dir });
        redisUrl = redis.url;
        log.info(`started a private redis-server at ${redisUrl} (data in .fastpix/redis-rinha)`);
      } else {
        await requireRedis(redisUrl);
        log.info(`using Redis at ${redactUrl(redisUrl)}`);
      }

      const urls = { default: opts.processorDefaultUrl, fallback: opts.processorFallbackUrl };
      for (const [i, name] of (["default", "fallback"] as const).entries()) {
        if (urls[name] !== undefined) continue;
        const port = String(opts.simulatorPorts[i]);
        spawn(
          "simulators/processor_command.ts",
          ["--name", name, "--port", port],
          `processor ${name}`,
          {
            nice: opts.workerNice,
          },
        );
        urls[name] = `http://127.0.0.1:${port}`;
        await waitForHttp(`${urls[name]}/`, `processor simulator ${name}`);
      }

      const env: Record<string, string> = {
        REDIS_URL: redisUrl,
        PROCESSOR_DEFAULT_URL: urls.default!,
        PROCESSOR_FALLBACK_URL: urls.fallback!,
        RINHA_CONCURRENCY: String(opts.concurrency),
        RINHA_REQUEST_TIMEOUT_MS: String(opts.requestTimeoutMs),
        IDLE_THRESHOLD_MS: String(opts.idleThresholdMs),
        HEALTH_INTERVAL_MS: String(opts.healthIntervalMs),
        RINHA_FALLBACK_AFTER_MS: String(opts.fallbackAfterMs),
        RINHA_ATTEMPTS_PER_SECOND: String(opts.attemptsPerSecond),
      };
      for (let i = 1; i <= opts.workers; i++) {
        spawn("rinha/rinha_command.ts", ["worker"], `worker ${i}`, {
          env: { ...env, CONSUMER_NAME: `rinha_worker_${i}_${Deno.pid}` },
          nice: opts.workerNice,
        });
      }
      const apiArgs = [
        "api",
        "--port",
        String(opts.port),
        "--hostname",
        opts.hostname,
        "--port-stack",
        claim.stack,
        ...httpLimitArgs(httpLimitsOf(opts, opts.maxBodyBytes)),
      ];
      for (let i = 1; i <= opts.apis; i++) {
        spawn("rinha/rinha_command.ts", apiArgs, `api ${i}`, { env });
      }
      const host = opts.hostname === "0.0.0.0" ? "127.0.0.1" : opts.hostname;
      const base = `http://${host}:${opts.port}`;
      await waitForHttp(`${base}/payments-summary`, "the API");
      log.info(
        `ready: ${base} (${opts.apis} APIs, ${opts.workers} workers; processors ${urls.default} and ${urls.fallback})`,
      );
    } catch (error) {
      await stopAll(); // leave nothing running behind a failed start
      throw error;
    }
    await new Promise(() => {}); // until a signal
  });

const program = new Command("rinha")
  .description("The Rinha de Backend 2025 backend on fastpix's queue.")
  .addCommand(startCommand, { isDefault: true })
  .addCommand(apiCommand)
  .addCommand(workerCommand);

if (import.meta.main) await runCommand(program);
