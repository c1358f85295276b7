/**
 * `deno task bench`: end-to-end throughput and latency of the stream design, as a table and JSON
 * (`loadtest/results/bench-<time>.json`, or `--json PATH`). A benchmark, not a test.
 * @module
 */
import { describeMachine } from "./machine.ts";
import { Command, Option } from "@commander-js/extra-typings";
import Table from "cli-table3";
import { intIn, parseRedisUrl, runCommand } from "@fastpix/cli";
import { formatCount, formatNumber } from "@fastpix/pix";
import { runBench } from "./bench.ts";
import { runClusterBench } from "./cluster_bench.ts";
import { markArithmetic, runMemoryBench } from "./memory_bench.ts";

const program = new Command("bench")
  .description("Measure end-to-end throughput (inject + consume + confirm + ack) and latency.")
  .addOption(
    new Option("--redis-url <url>", "use this Redis (default: a private one)").argParser(
      parseRedisUrl,
    ),
  )
  .addOption(
    new Option("--payments <n>", "payments in the max-speed run").default(200_000).argParser(
      intIn(1, 1e8),
    ),
  )
  .addOption(
    new Option("--warmup <n>", "payments sent first, not measured").default(20_000).argParser(
      intIn(0, 1e8),
    ),
  )
  .addOption(
    new Option("--rate <per-second>", "offered rate of the latency run").default(5000).argParser(
      intIn(1, 1e7),
    ),
  )
  .addOption(
    new Option("--duration <s>", "length of the latency run").default(10).argParser(intIn(1, 3600)),
  )
  .addOption(
    new Option("--consumers <n>", "consumer loops in the consumer process").default(2).argParser(
      intIn(1, 64),
    ),
  )
  .addOption(
    new Option("--consumer-batch <n>", "entries per XREADGROUP").default(500).argParser(
      intIn(1, 10_000),
    ),
  )
  .addOption(
    new Option("--batch-size <n>", "payments per enqueue (max-speed run)").default(500).argParser(
      intIn(1, 10_000),
    ),
  )
  .addOption(
    new Option("--threads <n>", "injector connections (max-speed run)").default(4).argParser(
      intIn(1, 256),
    ),
  )
  .addOption(
    new Option("--latency-batch <n>", "most payments per enqueue in the latency run").default(10)
      .argParser(intIn(1, 10_000)),
  )
  .option("--json <path>", "where to write the JSON result")
  .option(
    "--cluster",
    "compare one Redis with a private 3-master cluster at 1 and 3 partitions (drain and max speed)",
    false,
  )
  .option("--ledger", "turn the PostgreSQL ledger on (a private PostgreSQL, migrated)", false)
  .option(
    "--memory",
    "measure the bytes Redis keeps per payment (stream, confirmations, idempotency marks, and " +
      "with --ledger the outbox while PostgreSQL is away) over --payments (default here 100,000)",
    false,
  )
  .action(async (opts) => {
    if (opts.cluster) return await clusterBench(opts);
    if (opts.memory) {
      const payments = program.getOptionValueSource("payments") === "default"
        ? 100_000
        : opts.payments;
      return await memoryBench({ ...opts, payments });
    }
    const result = await runBench({
      redisUrl: opts.redisUrl,
      payments: opts.payments,
      warmup: opts.warmup,
      rate: opts.rate,
      durationS: opts.duration,
      consumerLoops: opts.consumers,
      consumerBatchSize: opts.consumerBatch,
      injectBatchSize: opts.batchSize,
      injectThreads: opts.threads,
      latencyBatchSize: opts.latencyBatch,
      ledger: opts.ledger,
    }, (line) => console.error(line));
    const table = new Table({
      head: [
        "run",
        "payments",
        "offered/s",
        "sent/s",
        "confirmed/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "lost",
      ],
      style: { head: [], border: [] },
    });
    for (const r of result.runs) {
      const l = r.latency;
      const cells = [l?.p50, l?.p95, l?.p99, l?.max].map((v) =>
        v === undefined ? "-" : formatNumber(v)
      );
      table.push([
        r.name,
        formatCount(r.payments),
        r.offeredRate === null ? "max" : formatCount(r.offeredRate),
        r.sendRate ? formatCount(r.sendRate) : "-",
        formatCount(r.endToEndRate),
        ...cells,
        formatCount(r.unanswered),
      ]);
    }
    console.log(table.toString());
    const m = result.machine;
    console.log(`${describeMachine(m)}, Redis ${m.redis}`);
    const path = opts.json ?? `loadtest/results/bench-${result.at.replace(/[:.]/g, "-")}.json`;
    await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${path}`).pathname, { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
    console.log(`written ${path}`);
  });

async function memoryBench(
  opts: {
    payments: number;
    ledger: boolean;
    batchSize: number;
    consumerBatch: number;
    json?: string;
  },
) {
  const result = await runMemoryBench({
    payments: opts.payments,
    ledger: opts.ledger,
    injectBatchSize: opts.batchSize,
    consumerBatchSize: opts.consumerBatch,
  }, (line) => console.error(line));
  const table = new Table({
    head: ["part", "keys", "bytes", "bytes/payment", "MEMORY USAGE/payment"],
    style: { head: [], border: [] },
  });
  for (const p of result.parts) {
    table.push([
      p.part,
      p.keys ? formatCount(p.keys) : "",
      formatCount(p.bytes),
      formatNumber(p.perPayment, 1),
      p.memoryUsagePerPayment ? formatNumber(p.memoryUsagePerPayment, 1) : "",
    ]);
  }
  table.push(["total", "", "", formatNumber(result.totalPerPayment, 1), ""]);
  console.log(table.toString());
  const m = result.marks;
  console.log(
    `${formatCount(opts.payments)} payments processed by one stream consumer; bytes: used_memory ` +
      `given back by deleting each part; Redis ${result.redis.version} (${result.redis.allocator})`,
  );
  console.log(
    `a mark holds "${m.example}" (fingerprint:stream id): ${formatNumber(m.perMark, 1)} B each ` +
      `(MEMORY USAGE ${m.memoryUsage} B); with the stream id alone, as before fingerprints: ` +
      `${formatNumber(m.idOnlyPerMark, 1)} B`,
  );
  console.log(`marks live for MARK_TTL: ${markArithmetic(Math.round(m.perMark), 1_000_000, 7)}`);
  console.log(
    "bounds: the stream keeps what no group still needs up to STREAM_MAXLEN entries, each " +
      "confirmation stream about RESPONSE_MAXLEN entries, the outbox what PostgreSQL has not taken",
  );
  const path = opts.json ?? `loadtest/results/bench-memory-${result.at.replace(/[:.]/g, "-")}.json`;
  await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${path}`).pathname, { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
  console.log(`written ${path}`);
}

async function clusterBench(
  opts: {
    payments: number;
    consumers: number;
    consumerBatch: number;
    batchSize: number;
    threads: number;
    json?: string;
  },
) {
  const options = {
    payments: opts.payments,
    consumerLoops: opts.consumers,
    consumerBatchSize: opts.consumerBatch,
    injectBatchSize: opts.batchSize,
    injectThreads: opts.threads,
  };
  const rows = await runClusterBench(options, (line) => console.error(line));
  const table = new Table({
    head: ["layout", "partitions", "shards", "consumer procs", "drain/s", "confirmed/s", "lost"],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    table.push([
      r.layout,
      r.partitions || "-",
      r.shards,
      `${r.consumerProcesses} x ${opts.consumers} loops`,
      formatCount(r.drainRate),
      formatCount(r.endToEndRate),
      formatCount(r.unanswered),
    ]);
  }
  console.log(table.toString());
  console.log(
    `machine: ${navigator.hardwareConcurrency} CPUs shared by every node, consumer and the injector`,
  );
  const at = new Date().toISOString();
  const path = opts.json ?? `loadtest/results/bench-cluster-${at.replace(/[:.]/g, "-")}.json`;
  await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${path}`).pathname, { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify({ at, options, rows }, null, 2) + "\n");
  console.log(`written ${path}`);
}

if (import.meta.main) await runCommand(program);
