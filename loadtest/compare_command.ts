/**
 * `deno task compare-fifo-vs-stream`: every queue design through the same workload on a private
 * Redis; prints a table, writes JSON (`--json PATH`, default `loadtest/results/compare-<time>.json`)
 * and a self-contained HTML report beside it. A benchmark, not a test: `--quick` is for CI.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { createLogger } from "@fastpix/infra";
import { intIn, runCommand, stopOnSignals } from "@fastpix/cli";
import { DESIGN_NAMES, type DesignName } from "@fastpix/queue";
import { compareDefaults, runCompare } from "./compare.ts";
import { comparisonHtml, comparisonNotes, comparisonTable } from "./compare_report.ts";

function parseDesigns(text: string): DesignName[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = names.filter((s) => !(DESIGN_NAMES as readonly string[]).includes(s));
  if (names.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `Expected a comma-separated list of ${DESIGN_NAMES.join(", ")}.`,
    );
  }
  return [...new Set(names)] as DesignName[];
}

const program = new Command("compare-fifo-vs-stream")
  .description(
    "Run the same PIX workload through each queue design: throughput, latency, a crash, memory.",
  )
  .option("--quick", "small counts, under a minute for every design (CI)", false)
  .addOption(
    new Option("--designs <list>", `designs to run, comma-separated (${DESIGN_NAMES.join(",")})`)
      .argParser(parseDesigns),
  )
  .addOption(
    new Option(
      "--payments <n>",
      "payments per throughput run and in the memory run (default 50000, quick 2000)",
    )
      .argParser(intIn(100, 10_000_000)),
  )
  .addOption(
    new Option(
      "--consumers <n>",
      "N: throughput is measured with 1 and N consumers (default 4, quick 2)",
    )
      .argParser(intIn(1, 32)),
  )
  .addOption(
    new Option("--rate <per-second>", "offered rate of the latency run (default 1000, quick 500)")
      .argParser(intIn(1, 1_000_000)),
  )
  .addOption(
    new Option(
      "--repeat <n>",
      "throughput runs per consumer count, median reported (default 3, quick 1)",
    )
      .argParser(intIn(1, 20)),
  )
  .option("--json <path>", "where to write the JSON (the HTML report goes beside it)")
  .action(async (opts) => {
    const log = createLogger("compare");
    const o = compareDefaults(opts.quick);
    if (opts.designs) o.designs = opts.designs;
    if (opts.payments) o.payments = opts.payments;
    if (opts.consumers) o.consumers = opts.consumers;
    if (opts.repeat) o.repeat = opts.repeat;
    if (opts.rate) {
      o.rate = opts.rate;
      o.latencyPayments = opts.rate * (opts.quick ? 1 : 10);
    }
    const command = ["deno task compare-fifo-vs-stream", ...Deno.args].join(" ");
    const interrupted = new AbortController();
    const removeSignals = stopOnSignals(
      () => interrupted.abort(),
      log,
      "interrupted: stopping the consumers and Redis (signal again to exit now)",
    );
    const result = await runCompare(o, (line) => log.info(line), {
      command,
      signal: interrupted.signal,
    }).finally(removeSignals);
    console.log(comparisonTable(result));
    for (const note of comparisonNotes(result)) console.log(note);
    const stamp = result.at.replace(/[:.]/g, "-");
    const jsonPath = opts.json ?? `loadtest/results/compare-${stamp}.json`;
    const htmlPath = jsonPath.replace(/\.json$/, "") + ".html";
    const dir = jsonPath.includes("/") ? jsonPath.slice(0, jsonPath.lastIndexOf("/")) : ".";
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(jsonPath, JSON.stringify(result, null, 2) + "\n");
    await Deno.writeTextFile(htmlPath, comparisonHtml(result));
    console.log(`written ${jsonPath} and ${htmlPath}`);
  });

if (import.meta.main) await runCommand(program);
