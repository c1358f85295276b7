/**
 * `deno task k6 <scenario> [-- k6 flags]`: runs a scenario of `loadtest/k6/` with k6 against a
 * private Redis, the design's consumers and the gateway, started here and stopped after. Scenario
 * settings come from the environment (`RATE=2000 deno task k6 designs`). `rinha` runs against the
 * Rinha backend and its processor simulators, started as `deno task rinha` does. `--report` has k6
 * export its web dashboard as HTML beside the summary. Without k6 on PATH it says in one line
 * where to get it and exits non-zero; a run that failed, measured nothing or lost payments says
 * why (`FAILED:` lines) and exits non-zero.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { intIn, runCommand } from "@fastpix/cli";
import { UserError } from "@fastpix/pix";
import { DESIGN_NAMES, type DesignName, isDesignName } from "@fastpix/queue";
import { runK6 } from "./k6_runner.ts";

/** Env vars the scenarios read (passed on to k6 with -e when set). */
const SCENARIO_ENV = [
  "RATE",
  "CONSTANT_DURATION",
  "RAMP_RATES",
  "STEP_DURATION",
  "STEP_RAMP",
  "GAP",
  "P99_MS",
  "MAX_FAILED_RATE",
  "WAIT",
  "VUS",
  "MAX_VUS",
  "BACKEND_IDS",
  "DURATION",
  "DRAIN",
  "NUM_LISTS",
  "REDIS_LIST",
  "USE_HASHTAG",
  "MAX_RATE",
  "DURATION_S",
  "TOKEN",
]; // deno-fmt-ignore

const program = new Command("k6")
  .description("Run a k6 scenario (designs, redis_direct, soak, ...) on private Redis + gateway.")
  .argument("<scenario>", "a file of loadtest/k6/ without .ts")
  .argument("[k6-flags...]", "more `k6 run` flags (after --)")
  .addOption(
    new Option("--designs <list>", "designs to run, comma-separated (default: all available)")
      .env("DESIGNS"),
  )
  .addOption(
    new Option("--consumers <n>", "consumer processes per design").default(1).argParser(
      intIn(1, 16),
    ),
  )
  .addOption(new Option("--k6 <binary>", "the k6 binary").env("K6").default("k6"))
  .option("--results <dir>", "folder for the summary JSON", "loadtest/results")
  .option("--report", "also export k6's web dashboard as HTML (<results>/<scenario>-<time>.html)")
  .action(async (scenario, k6Args, opts) => {
    let designs: DesignName[] | undefined;
    if (opts.designs !== undefined) {
      designs = opts.designs.split(",").map((d) => d.trim()).filter((d) => d !== "").map((d) => {
        if (!isDesignName(d)) {
          throw new UserError(`Unknown design ${JSON.stringify(d)}: use ${DESIGN_NAMES.join(", ")}`);
        }
        return d;
      });
    }
    const env: Record<string, string> = {};
    for (const name of SCENARIO_ENV) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const { code, summary, problems, reports } = await runK6({
      scenario,
      designs,
      consumers: opts.consumers,
      k6: opts.k6,
      k6Args,
      resultsDir: opts.results,
      env,
      report: opts.report ?? false,
    });
    for (const html of reports) console.log(`report: ${html}`);
    console.log(`summary: ${summary}`);
    for (const problem of problems) console.error(`FAILED: ${problem}`);
    if (code !== 0) {
      console.error(`k6 ${scenario} failed (exit ${code}): ${problems.length} problem(s) above`);
      Deno.exit(code);
    }
  });

if (import.meta.main) await runCommand(program);
