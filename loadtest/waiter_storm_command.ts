/**
 * `deno task bench:waiters`: a `wait=true` storm (one backend per request, the consumer paused)
 * against a real gateway process on a private Redis; prints the gateway's memory idle, at its
 * peak and after, the confirmation streams it watched, and Redis's CPU afterwards, and writes JSON
 * (`loadtest/results/waiters-<time>.json`, or `--json PATH`). Flags after `--` go to the gateway.
 * A benchmark, not a test.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { intIn, runCommand } from "@fastpix/cli";
import { runWaiterStorm } from "./waiter_storm.ts";
import { describeMachine, machineInfo } from "./machine.ts";

const program = new Command("bench:waiters")
  .description("Measure the gateway's memory and Redis's CPU through a wait=true storm.")
  .argument("[gateway-flags...]", "flags for the gateway process (after --)")
  .addOption(
    new Option("--requests <n>", "wait=true requests, each from a backend of its own")
      .default(20_000).argParser(intIn(1, 1_000_000)),
  )
  .addOption(
    new Option("--concurrency <n>", "requests in flight at once (one connection each)")
      .default(5000).argParser(intIn(1, 9000)),
  )
  .addOption(
    new Option("--wait-timeout-ms <ms>", "the gateway's --wait-timeout-ms").default(1000)
      .argParser(intIn(1, 600_000)),
  )
  .addOption(
    new Option("--watch-idle-ms <ms>", "the gateway's --watch-idle-ms").default(1000)
      .argParser(intIn(1, 600_000)),
  )
  .addOption(
    new Option("--settle <s>", "quiet seconds after the storm before memory is measured")
      .default(15).argParser(intIn(0, 600)),
  )
  .option("--json <path>", "where to write the JSON result")
  .action(async (gatewayArgs, opts) => {
    const result = await runWaiterStorm({
      requests: opts.requests,
      concurrency: opts.concurrency,
      waitTimeoutMs: opts.waitTimeoutMs,
      watchIdleMs: opts.watchIdleMs,
      settleS: opts.settle,
      gatewayArgs,
    }, (line) => console.error(line));
    const machine = await machineInfo();
    console.log(
      `gateway resident memory: idle ${result.rssIdleMb} MB, peak ${result.rssPeakMb} MB, ` +
        `after ${result.rssAfterMb} MB (${
          Math.round(result.rssAfterMb / result.rssIdleMb * 100) / 100
        }x idle)`,
    );
    console.log(
      `watched confirmation streams: peak ${result.watchedPeak}, after ${result.watchedAfter}; ` +
        `Redis CPU after: ${result.redisCpuAfterPct}%`,
    );
    console.log(describeMachine(machine));
    const at = new Date().toISOString();
    const path = opts.json ?? `loadtest/results/waiters-${at.replace(/[:.]/g, "-")}.json`;
    await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${path}`).pathname, { recursive: true });
    await Deno.writeTextFile(
      path,
      JSON.stringify({ at, machine, options: { ...opts, gatewayArgs }, result }, null, 2) + "\n",
    );
    console.log(`written ${path}`);
  });

if (import.meta.main) await runCommand(program);
