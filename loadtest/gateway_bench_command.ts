/**
 * `deno task bench:gateway`: requests/s and latency of `POST /pix/payments` (202 mode) through
 * real gateway processes, driven by `wrk` over loopback; a table and JSON
 * (`loadtest/results/gateway-bench-<time>.json`, or `--json PATH`). A benchmark, not a test.
 * Flags after `--` go to the gateway (`-- --batch-max 1` measures without micro-batching).
 * @module
 */
import { describeMachine } from "./machine.ts";
import { Command, Option } from "@commander-js/extra-typings";
import Table from "cli-table3";
import { intIn, parseRedisUrl, runCommand } from "@fastpix/cli";
import { formatCount, formatNumber, UserError } from "@fastpix/pix";
import { runGatewayBench } from "./gateway_bench.ts";

const program = new Command("bench:gateway")
  .description("Measure the gateway's POST /pix/payments throughput and latency with wrk.")
  .argument("[gateway-flags...]", "flags for the gateway processes (after --)")
  .addOption(
    new Option("--redis-url <url>", "use this Redis (default: a private one)").argParser(
      parseRedisUrl,
    ),
  )
  .addOption(
    new Option("--duration <s>", "length of the measured run").default(10).argParser(
      intIn(1, 600),
    ),
  )
  .addOption(
    new Option("--warmup <s>", "unmeasured run first").default(3).argParser(intIn(0, 600)),
  )
  .addOption(
    new Option("--connections <n>", "open HTTP connections").default(64).argParser(
      intIn(1, 10_000),
    ),
  )
  .addOption(new Option("--threads <n>", "wrk threads").default(1).argParser(intIn(1, 64)))
  .addOption(
    new Option("--instances <n>", "gateway processes sharing the port").default(1).argParser(
      intIn(1, 16),
    ),
  )
  .addOption(
    new Option("--consumers <n>", "consumer processes draining the stream meanwhile").default(0)
      .argParser(intIn(0, 16)),
  )
  .option("--json <path>", "where to write the JSON result")
  .action(async (gatewayArgs, opts) => {
    const r = await runGatewayBench({
      redisUrl: opts.redisUrl,
      durationS: opts.duration,
      warmupS: opts.warmup,
      connections: opts.connections,
      threads: opts.threads,
      instances: opts.instances,
      consumers: opts.consumers,
      gatewayArgs,
    }, (line) => console.error(line));
    const table = new Table({
      head: [
        "requests",
        "req/s",
        "p50 ms",
        "p75 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "non-2xx",
        "lost",
        "CPU us/req",
      ],
      style: { head: [], border: [] },
    });
    const w = r.result;
    const l = w.latency;
    table.push([
      formatCount(w.requests),
      formatCount(w.rate),
      ...[l.p50, l.p75, l.p90, l.p99, l.max].map((v) => formatNumber(v)),
      formatCount(w.non2xx + w.socketErrors),
      formatCount(r.lost),
      r.gatewayCpuUsPerRequest === null ? "?" : formatNumber(r.gatewayCpuUsPerRequest),
    ]);
    console.log(table.toString());
    const m = r.machine;
    console.log(`${describeMachine(m)} at the end, ${m.wrk}`);
    const path = opts.json ?? `loadtest/results/gateway-bench-${r.at.replace(/[:.]/g, "-")}.json`;
    await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${path}`).pathname, { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(r, null, 2) + "\n");
    console.log(`written ${path}`);
    if (r.lost > 0) Deno.exit(1);
    const refused = w.non2xx + w.socketErrors;
    if (refused > 0) {
      // A rate of refused requests measures nothing users care about: say so and fail.
      throw new UserError(
        `${formatCount(refused)} of ${formatCount(w.requests)} requests were not accepted ` +
          "(non-2xx or socket errors): " +
          "the figures above do not measure accepted payments",
      );
    }
  });

if (import.meta.main) await runCommand(program);
