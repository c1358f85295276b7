/**
 * `deno task k6 <scenario>`: runs a k6 scenario of `loadtest/k6/` with what it needs started
 * privately (Redis, the design's consumers, the gateway), then stops them. Designs run one at a
 * time on a fresh Redis each, and their summaries are merged into one JSON.
 * @module
 */
import { ChildTool, commandExists, freePort, RedisServer } from "@fastpix/testing";
import { createLogger } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import { bindDesign, DESIGN_NAMES, type DesignName, type DesignTarget } from "@fastpix/queue";
import { type GatewayProcess, startGatewayProcess } from "./gateway_process.ts";

const log = createLogger("k6");

/** Where to get k6 when it is missing. */
export const K6_INSTALL_URL = "https://grafana.com/docs/k6/latest/set-up/install-k6/";

const K6_DIR = new URL("./k6/", import.meta.url);
const TARGET: DesignTarget = { stream: "pix_payments", group: "pix_consumers", numLists: 1 };

/** Settings of one `deno task k6` run. */
export interface K6RunOptions {
  scenario: string;
  /** Designs to run, one after the other (default: every design the gateway has). */
  designs?: DesignName[];
  /** Consumer processes per design. */
  consumers: number;
  /** The k6 binary (`K6`, default `k6` on PATH). */
  k6: string;
  /** More `k6 run` arguments. */
  k6Args: string[];
  /** Folder for the summary JSON files. */
  resultsDir: string;
  /** Passed to the scenario as `-e NAME=value` (env vars the user set, e.g. RATE). */
  env: Record<string, string>;
}

/** The scenarios in `loadtest/k6/` (every `.ts` file but the shared ones). */
export async function listScenarios(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(K6_DIR)) {
    if (entry.isFile && /^[a-z0-9_]+\.ts$/.test(entry.name) && entry.name !== "lib.ts") {
      names.push(entry.name.slice(0, -3));
    }
  }
  return names.sort();
}

/** Throws a one-line {@link UserError} unless `k6` runs. */
export async function requireK6(k6: string): Promise<void> {
  if (await commandExists(k6)) return;
  throw new UserError(
    `k6 is not installed (no ${k6} on PATH): install k6 v1.x from ${K6_INSTALL_URL}`,
  );
}

/** The processes one design needs. */
class DesignStack {
  consumers: ChildTool[] = [];
  gateway?: GatewayProcess;

  private constructor(readonly redis: RedisServer, readonly design: DesignName) {}

  static async start(
    design: DesignName,
    options: { consumers: number; gateway: boolean; consumerEnv?: Record<string, string> },
  ): Promise<DesignStack> {
    const stack = new DesignStack(await RedisServer.start(), design);
    try {
      for (let i = 0; i < options.consumers; i++) stack.startConsumer(i, options.consumerEnv);
      if (options.gateway) {
        stack.gateway = await startGatewayProcess({
          redisUrl: stack.redis.url,
          port: freePort(),
          args: ["--design", design],
          echo: true,
        });
      }
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  startConsumer(index: number, env: Record<string, string> = {}, generation = 0): ChildTool {
    const { script, args } = bindDesign(this.design, TARGET).consumer;
    const consumer = new ChildTool(script, {
      args,
      env: {
        REDIS_URL: this.redis.url,
        CONSUMER_NAME: `k6_${this.design}_${index}_${generation}`,
        LOG_LEVEL: "warn",
        ...env,
      },
      echo: true,
    });
    this.consumers[index] = consumer;
    return consumer;
  }

  async stop(): Promise<void> {
    await this.gateway?.stop();
    for (const c of this.consumers) c.kill("SIGTERM");
    await Promise.all(this.consumers.map((c) => c.finished()));
    await this.redis.stop();
  }
}

/** Runs `k6 run` on a scenario file; resolves to k6's exit code. */
async function k6Run(
  options: K6RunOptions,
  file: string,
  env: Record<string, string>,
): Promise<number> {
  const args = ["run", ...options.k6Args];
  for (const [name, value] of Object.entries({ ...options.env, ...env })) {
    args.push("-e", `${name}=${value}`);
  }
  args.push(new URL(file, K6_DIR).pathname);
  log.info(`${options.k6} ${args.join(" ")}`);
  const { code } = await new Deno.Command(options.k6, {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-");

/** Parses `30s`, `5m`, `1h` or plain seconds. */
export function parseSeconds(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (m === null) {
    throw new UserError(`Cannot read the duration ${JSON.stringify(text)}: use 30s, 5m or 1h`);
  }
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? "s"] ?? 1);
}

/** Runs the scenario; resolves to the exit code (k6's worst) and the summary JSON written. */
export async function runK6(options: K6RunOptions): Promise<{ code: number; summary: string }> {
  const scenarios = await listScenarios();
  if (!scenarios.includes(options.scenario)) {
    throw new UserError(
      `Unknown k6 scenario ${JSON.stringify(options.scenario)}: use one of ${scenarios.join(", ")}`,
    );
  }
  await requireK6(options.k6);
  await Deno.mkdir(options.resultsDir, { recursive: true });
  const at = stamp();
  const summary = `${options.resultsDir}/k6-${options.scenario}-${at}.json`;
  const designs = options.designs ?? [...DESIGN_NAMES];
  const file = `${options.scenario}.ts`;

  if (options.scenario === "soak") {
    return { code: await runSoak(options, designs[0], summary), summary };
  }
  // designs, redis_direct and anything else: one design at a time, fresh Redis each, merged JSON.
  const perDesign: unknown[] = [];
  let scenarioOptions: unknown;
  let worst = 0;
  for (const design of designs) {
    const gateway = options.scenario !== "redis_direct";
    log.info(`${options.scenario}: design ${design}`);
    const stack = await DesignStack.start(design, { consumers: options.consumers, gateway });
    const partial = `${options.resultsDir}/k6-${options.scenario}-${design}-${at}.json`;
    try {
      const code = await k6Run(options, file, {
        DESIGNS: design,
        DESIGN: design,
        REDIS_URL: stack.redis.url,
        SUMMARY_JSON: partial,
        ...(stack.gateway ? { BASE_URL: stack.gateway.url } : {}),
      });
      worst = Math.max(worst, code);
    } finally {
      await stack.stop();
    }
    try {
      const doc = JSON.parse(await Deno.readTextFile(partial));
      perDesign.push(...(Array.isArray(doc.results) ? doc.results : [doc]));
      scenarioOptions ??= doc.options;
    } catch {
      log.warn(`k6 wrote no summary for design ${design} (${partial})`);
    }
  }
  await Deno.writeTextFile(
    summary,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        command: `deno task k6 ${options.scenario}`,
        tool: "k6",
        scenario: options.scenario,
        options: scenarioOptions ?? null,
        results: perDesign,
      },
      null,
      2,
    ) + "\n",
  );
  return { code: worst, summary };
}

/** The soak: consumers restarted half way (one SIGKILLed, the others stopped gracefully). */
async function runSoak(
  options: K6RunOptions,
  design: DesignName,
  summary: string,
): Promise<number> {
  const durationS = parseSeconds(options.env.DURATION ?? "10m");
  // A short idle threshold so the killed consumer's payments are reclaimed quickly.
  const consumerEnv = { IDLE_THRESHOLD_MS: "2000" };
  const consumers = Math.max(2, options.consumers);
  const stack = await DesignStack.start(design, { consumers, gateway: true, consumerEnv });
  const restart = setTimeout(() => {
    log.info(`soak: half way, SIGKILL consumer 0 and restart every consumer`);
    stack.consumers[0].kill("SIGKILL");
    stack.startConsumer(0, consumerEnv, 1);
    for (let i = 1; i < consumers; i++) {
      const old = stack.consumers[i];
      old.kill("SIGTERM");
      old.finished().then(() => stack.startConsumer(i, consumerEnv, 1));
    }
  }, durationS * 500);
  try {
    return await k6Run(options, "soak.ts", {
      DESIGN: design,
      BASE_URL: stack.gateway!.url,
      REDIS_URL: stack.redis.url,
      SUMMARY_JSON: summary,
    });
  } finally {
    clearTimeout(restart);
    await stack.stop();
  }
}
