/**
 * `deno task k6:smoke [--scenarios designs,soak] [--designs stream] [--k6 path]`: each k6 scenario
 * (designs, redis_direct, soak, rinha) for a few seconds against its private stack under the real
 * k6, checking exit 0, at least 80% of the offered rate served, and enqueued = processed with
 * nothing lost. k6 comes from `--k6`/`K6` (which must then exist) or else `k6` on PATH; with
 * neither, it prints one line and exits 0 ("skipped"), so a machine without k6 is not failed.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { runCommand } from "@fastpix/cli";
import { UserError } from "@fastpix/pix";
import { DESIGN_NAMES, type DesignName, isDesignName } from "@fastpix/queue";
import { K6_INSTALL_URL, k6Exists, requireK6 } from "./k6_runner.ts";
import {
  MIN_SERVED,
  runSmoke,
  SMOKE_SCENARIOS,
  type SmokeRow,
  type SmokeScenario,
} from "./k6_smoke.ts";

function parseList<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UserError(`Unknown ${what} ${JSON.stringify(item)}: use ${allowed.join(", ")}`);
    }
  }
  if (items.length === 0) throw new UserError(`No ${what} given: use ${allowed.join(", ")}`);
  return items as T[];
}

const cell = (v: number | null) => v === null ? "?" : String(v);

function rowLine(row: SmokeRow): string {
  const served = row.offeredRate > 0 ? Math.round(row.servedRate / row.offeredRate * 100) : 0;
  return [
    row.scenario.padEnd(12),
    row.design.padEnd(13),
    `offered ${row.offeredRate}/s`.padEnd(16),
    `served ${row.servedRate}/s (${served}%)`.padEnd(24),
    `enqueued ${cell(row.enqueued)}`.padEnd(14),
    `processed ${cell(row.processed)}`.padEnd(15),
    `lost ${cell(row.lost)}`.padEnd(8),
    `twice ${cell(row.countedTwice)}`.padEnd(9),
    row.failures.length === 0 ? "ok" : "FAILED",
  ].join(" ");
}

const program = new Command("k6:smoke")
  .description("Run each k6 scenario briefly under the real k6 and check what it reports.")
  .option("--scenarios <list>", `scenarios to run (default: ${SMOKE_SCENARIOS.join(",")})`)
  .addOption(
    new Option("--designs <list>", "designs for designs/redis_direct (default: all; soak: first)"),
  )
  .addOption(new Option("--k6 <binary>", "the k6 binary (default: k6 on PATH)").env("K6"))
  .option("--results <dir>", "folder for the summaries", "loadtest/results/k6-smoke")
  .action(async (opts) => {
    const scenarios: SmokeScenario[] = opts.scenarios === undefined
      ? [...SMOKE_SCENARIOS]
      : parseList(opts.scenarios, SMOKE_SCENARIOS, "scenario");
    const designs: DesignName[] | undefined = opts.designs === undefined
      ? undefined
      : parseList(opts.designs, DESIGN_NAMES, "design").filter(isDesignName);
    let k6 = opts.k6;
    if (k6 === undefined || k6 === "") {
      if (!(await k6Exists("k6"))) {
        console.log(
          `k6 smoke skipped: no k6 found (set K6 or put k6 on PATH; install: ${K6_INSTALL_URL})`,
        );
        return;
      }
      k6 = "k6";
    }
    await requireK6(k6); // K6 named a binary that is not there: fail, never skip
    const started = Date.now();
    const runs = await runSmoke({ k6, scenarios, designs, resultsDir: opts.results }, (run) => {
      for (const row of run.rows) console.log(rowLine(row));
      for (const failure of run.failures) console.log(`  FAILED ${run.scenario}: ${failure}`);
      console.log(`  ${run.scenario}: ${run.seconds} s, summary ${run.run.summary}`);
    });
    const failed = runs.filter((r) => r.failures.length > 0).map((r) => r.scenario);
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(
      `k6 smoke: ${
        runs.length - failed.length
      } of ${runs.length} scenarios passed in ${seconds} s` +
        (failed.length > 0 ? ` (failed: ${failed.join(", ")})` : "") +
        ` (each: exit 0, >= ${MIN_SERVED * 100}% of the offered rate served, enqueued = processed)`,
    );
    if (failed.length > 0) Deno.exit(1);
  });

if (import.meta.main) await runCommand(program);
