/**
 * `deno task bench:rinha`: the Rinha de Backend 2025 test shape against this repo's Rinha mode
 * (started privately unless `--url` is given), as a table and JSON
 * (`loadtest/results/rinha-<time>.json`, or `--json PATH`). A benchmark, not a test.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import Table from "cli-table3";
import { intIn, parseAmountOption, parseHttpUrl, runCommand } from "@fastpix/cli";
import { formatCount as n, formatDecimal as brl, formatNumber, UserError } from "@fastpix/pix";
import { RINHA_SCHEDULE, runRinhaBench } from "./rinha_bench.ts";

const program = new Command("bench:rinha")
  .description(
    "Ramp payments to --max-rate over --duration with the challenge's processor schedule.",
  )
  .addOption(
    new Option("--duration <s>", "length of the load").default(60).argParser(intIn(5, 3600)),
  )
  .addOption(
    new Option("--max-rate <per-second>", "rate at the end of the ramp").default(600).argParser(
      intIn(1, 100_000),
    ),
  )
  .addOption(
    new Option("--check-every <s>", "consistency check interval").default(10).argParser(
      intIn(1, 600),
    ),
  )
  .addOption(
    new Option("--drain <s>", "longest wait for the backlog after the load").default(20).argParser(
      intIn(0, 600),
    ),
  )
  .addOption(
    new Option("--apis <n>", "API processes (started stack)").default(2).argParser(intIn(1, 16)),
  )
  .addOption(
    new Option("--workers <n>", "worker processes (started stack)").default(2).argParser(
      intIn(1, 16),
    ),
  )
  .addOption(
    new Option("--amount <brl>", "amount of every payment").default(1990, "19.90").argParser(
      parseAmountOption,
    ),
  )
  .addOption(
    new Option("--url <url>", "a running backend (default: start one)").argParser(parseHttpUrl),
  )
  .addOption(
    new Option("--processor-default-url <url>", "with --url: the default processor").argParser(
      parseHttpUrl,
    ),
  )
  .addOption(
    new Option("--processor-fallback-url <url>", "with --url: the fallback processor").argParser(
      parseHttpUrl,
    ),
  )
  .addOption(new Option("--token <token>", "processors' admin token").default("123"))
  .addOption(
    new Option("--baseline <s>", "first, the same ramp against a trivial server (0: skip)")
      .default(10).argParser(intIn(0, 600)),
  )
  .option("--json <path>", "where to write the JSON report")
  .action(async (opts) => {
    if (opts.url && !(opts.processorDefaultUrl && opts.processorFallbackUrl)) {
      throw new UserError("--url needs --processor-default-url and --processor-fallback-url");
    }
    const report = await runRinhaBench({
      url: opts.url,
      processorUrls: opts.url
        ? { default: opts.processorDefaultUrl!, fallback: opts.processorFallbackUrl! }
        : undefined,
      token: opts.token,
      durationS: opts.duration,
      maxRate: opts.maxRate,
      checkEveryS: opts.checkEvery,
      drainS: opts.drain,
      apis: opts.apis,
      workers: opts.workers,
      amountCents: opts.amount,
      schedule: RINHA_SCHEDULE,
      baselineS: opts.baseline,
    }, (line) => console.error(line));

    const ms = (x: number) => formatNumber(x);
    const table = new Table({ head: ["", "count", "p50 ms", "p99 ms", "max ms"] });
    for (const [name, l] of Object.entries(report.latency)) {
      table.push([`HTTP ${name}`, n(l.count), ms(l.p50), ms(l.p99), ms(l.max)]);
    }
    const b = report.baseline;
    if (b) table.push(["baseline (trivial server)", n(b.count), ms(b.p50), ms(b.p99), ms(b.max)]);
    console.log(table.toString());
    console.log(
      `p99 per tenth of the run (ms): ${report.latencyBySlice.map((l) => ms(l.p99)).join(" ")}`,
    );
    const money = new Table({ head: ["processor", "payments", "amount", "fee"] });
    for (const [name, p] of Object.entries(report.processed)) {
      money.push([name, n(p.count), brl(p.amount), brl(p.fee)]);
    }
    console.log(money.toString());
    const r = report.requests;
    console.log(
      `requests ${n(r.sent)} (accepted ${n(r.accepted)}, failed ${n(r.failed)}), ` +
        `lag ${n(report.lag)}, inconsistent checks ${n(report.inconsistentChecks)}/${
          n(report.checks.length)
        } ` +
        `(amount ${brl(report.inconsistencyAmount)}), net ${brl(report.net)}, score ${
          brl(report.score)
        }; ` +
        `generator lag ${
          n(report.generatorLagMs)
        } ms, load average ${report.loadAverage.before} → ${report.loadAverage.after}`,
    );
    const path = opts.json ?? `loadtest/results/rinha-${report.at.replace(/[:.]/g, "-")}.json`;
    await Deno.mkdir(new URL(".", new URL(path, `file://${Deno.cwd()}/`)), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
    console.error(`report written to ${path}`);
  }); // deno-fmt-ignore

if (import.meta.main) await runCommand(program);
