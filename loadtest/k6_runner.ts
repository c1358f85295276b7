/**
 * `deno task k6 <scenario>`: runs a k6 scenario of `loadtest/k6/` with what it needs started
 * privately (Redis, the design's consumers, the gateway; for `rinha`, the Rinha backend with its
 * processor simulators), then stops them. Designs run one at a time on a fresh Redis each, and
 * their summaries are merged into one JSON. A run fails (non-zero code, `ok: false` and the
 * reasons in `problems`) when k6 failed, wrote no summary, or its summary says the run measured
 * nothing or lost payments.
 * @module
 */
import { ChildTool, commandExists, freePort, RedisServer } from "@fastpix/testing";
import { createLogger, sleep } from "@fastpix/infra";
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
  /**
   * Have k6 export its web dashboard as HTML (`<resultsDir>/<scenario>[-<design>]-<time>.html`),
   * sampled every second so a short run has data.
   */
  report?: boolean;
}

/** What {@link runK6} did. */
export interface K6RunResult {
  /** 0 when every k6 run passed and every summary is sound; else k6's worst code, or 1. */
  code: number;
  /** The summary JSON (one file for all designs). */
  summary: string;
  /** Why the run failed (empty when it passed). */
  problems: string[];
  /** The HTML reports written (`report`). */
  reports: string[];
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

/** Whether `k6` (a name on PATH, or a path) can be run. */
export async function k6Exists(k6: string): Promise<boolean> {
  if (!k6.includes("/")) return await commandExists(k6);
  try {
    const info = await Deno.stat(k6);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Throws a one-line {@link UserError} unless `k6` runs. */
export async function requireK6(k6: string): Promise<void> {
  if (await k6Exists(k6)) return;
  const where = k6.includes("/") ? `no executable ${k6}` : `no ${k6} on PATH`;
  throw new UserError(`k6 is not installed (${where}): install k6 v1.x from ${K6_INSTALL_URL}`);
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
  processEnv: Record<string, string> = {},
): Promise<number> {
  const args = ["run", ...options.k6Args];
  for (const [name, value] of Object.entries({ ...options.env, ...env })) {
    args.push("-e", `${name}=${value}`);
  }
  args.push(new URL(file, K6_DIR).pathname);
  log.info(`${options.k6} ${args.join(" ")}`);
  const { code } = await new Deno.Command(options.k6, {
    args,
    env: processEnv,
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

/** What k6's exit codes mean (the ones a run of these scenarios meets). */
function k6ExitMeaning(code: number): string {
  return ({
    99: "thresholds crossed",
    100: "k6 stopped with an error",
    104: "invalid configuration",
    105: "the test was aborted",
    107: "script error",
    108: "the test was aborted",
  } as Record<number, string>)[code] ?? "k6 failed (see its errors above)";
}

/**
 * The environment of a k6 run with `report`: the web dashboard on, without its HTTP server (which
 * would keep k6 running while a browser is open, and clash between runs), exported to `html`.
 */
export function reportEnv(html: string): Record<string, string> {
  return {
    K6_WEB_DASHBOARD: "true",
    K6_WEB_DASHBOARD_PORT: "-1",
    K6_WEB_DASHBOARD_PERIOD: "1s",
    K6_WEB_DASHBOARD_EXPORT: html,
  };
}

/** One `k6 run`: its label (design), exit code and summary file. */
interface K6Run {
  label: string;
  code: number;
  file: string;
}

/** A scenario's summary JSON as `summaryOutputs` (`loadtest/k6/lib.ts`) writes it. */
interface SummaryDoc {
  options?: unknown;
  results?: unknown[];
  problems?: string[];
}

/** Reads each run's summary; the problems are k6's failures, missing summaries and theirs. */
async function collect(runs: K6Run[]): Promise<{ docs: SummaryDoc[]; problems: string[] }> {
  const docs: SummaryDoc[] = [];
  const problems: string[] = [];
  for (const run of runs) {
    if (run.code !== 0) {
      problems.push(`${run.label}: k6 exited with code ${run.code} (${k6ExitMeaning(run.code)})`);
    }
    let doc: SummaryDoc;
    try {
      doc = JSON.parse(await Deno.readTextFile(run.file));
    } catch {
      problems.push(`${run.label}: k6 wrote no summary (${run.file})`);
      continue;
    }
    docs.push(doc);
    if (!Array.isArray(doc.problems)) {
      problems.push(`${run.label}: the summary does not say whether the run measured anything`);
    } else problems.push(...doc.problems);
  }
  return { docs, problems };
}

/** Runs the scenario and writes one summary JSON; never throws for a failed run, reports it. */
export async function runK6(options: K6RunOptions): Promise<K6RunResult> {
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
  const reports: string[] = [];
  /** The process environment of one k6 run (the HTML report's, with `report`). */
  const k6Env = (label?: string) => {
    if (!options.report) return {};
    const html = `${options.resultsDir}/${options.scenario}${label ? `-${label}` : ""}-${at}.html`;
    reports.push(html);
    return reportEnv(html);
  };

  const runs: K6Run[] = [];
  if (options.scenario === "soak") {
    const design = designs[0];
    runs.push({
      label: design,
      code: await runSoak(options, design, summary, k6Env()),
      file: summary,
    });
  } else if (options.scenario === "rinha") {
    runs.push({ label: "rinha", code: await runRinha(options, summary, k6Env()), file: summary });
  } else {
    // designs, redis_direct and anything else: one design at a time, fresh Redis each.
    const file = `${options.scenario}.ts`;
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
        }, k6Env(designs.length > 1 ? design : undefined));
        runs.push({ label: design, code, file: partial });
      } finally {
        await stack.stop();
      }
    }
  }

  const { docs, problems } = await collect(runs);
  for (const html of reports) {
    try {
      await Deno.stat(html);
    } catch {
      problems.push(`k6 wrote no HTML report (${html})`);
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
        ok: problems.length === 0,
        problems,
        k6ExitCodes: Object.fromEntries(runs.map((r) => [r.label, r.code])),
        options: docs[0]?.options ?? null,
        results: docs.flatMap((d) => Array.isArray(d.results) ? d.results : [d]),
        ...(reports.length > 0 ? { reports } : {}),
      },
      null,
      2,
    ) + "\n",
  );
  const worst = Math.max(0, ...runs.map((r) => r.code));
  return { code: worst !== 0 ? worst : problems.length > 0 ? 1 : 0, summary, problems, reports };
}

/** The soak: consumers restarted half way (one SIGKILLed, the others stopped gracefully). */
async function runSoak(
  options: K6RunOptions,
  design: DesignName,
  summary: string,
  processEnv: Record<string, string>,
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
    }, processEnv);
  } finally {
    clearTimeout(restart);
    await stack.stop();
  }
}

/** The Rinha backend as `deno task rinha` starts it, on a private Redis and free ports. */
interface RinhaStack {
  url: string;
  processors: { default: string; fallback: string };
  stop(): Promise<void>;
}

/**
 * Starts `deno task rinha` (its `start` command: processor simulators unless
 * PROCESSOR_*_URL are set, routing workers, APIs) on a private Redis, and waits for the API.
 */
async function startRinhaStack(): Promise<RinhaStack> {
  const redis = await RedisServer.start();
  const ports = { api: freePort(), default: freePort(), fallback: freePort() };
  const tool = new ChildTool("rinha/rinha_command.ts", {
    args: [
      "start",
      "--port",
      String(ports.api),
      "--hostname",
      "127.0.0.1",
      "--simulator-ports",
      `${ports.default},${ports.fallback}`,
    ],
    env: { REDIS_URL: redis.url, LOG_LEVEL: Deno.env.get("LOG_LEVEL") ?? "warn" },
    echo: true,
  });
  let exited = false;
  const exit = tool.finished().then((r) => (exited = true, r));
  const stop = async () => {
    tool.kill("SIGTERM");
    await exit;
    await redis.stop();
  };
  const url = `http://127.0.0.1:${ports.api}`;
  const processors = {
    default: Deno.env.get("PROCESSOR_DEFAULT_URL") ?? `http://127.0.0.1:${ports.default}`,
    fallback: Deno.env.get("PROCESSOR_FALLBACK_URL") ?? `http://127.0.0.1:${ports.fallback}`,
  };
  const deadline = Date.now() + 60_000;
  while (!exited && Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/payments-summary`, {
        signal: AbortSignal.timeout(1000),
      });
      await response.body?.cancel();
      if (response.ok) return { url, processors, stop };
    } catch { /* not yet */ }
    await sleep(200);
  }
  await stop();
  const { code } = await exit;
  throw new Error(`The Rinha backend did not start (deno task rinha exited with ${code})`);
}

/** The Rinha scenario against the Rinha backend and its processor simulators. */
async function runRinha(
  options: K6RunOptions,
  summary: string,
  processEnv: Record<string, string>,
): Promise<number> {
  log.info("rinha: starting the Rinha backend (deno task rinha) on a private Redis");
  const stack = await startRinhaStack();
  try {
    return await k6Run(options, "rinha.ts", {
      BASE_URL: stack.url,
      PROCESSOR_DEFAULT_URL: stack.processors.default,
      PROCESSOR_FALLBACK_URL: stack.processors.fallback,
      SUMMARY_JSON: summary,
    }, processEnv);
  } finally {
    await stack.stop();
  }
}
