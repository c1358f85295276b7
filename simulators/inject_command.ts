/**
 * `deno task inject`: the original's multi-backend simulator, faster and measurable.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import {
  backendIdOption,
  intIn,
  listNaming,
  parseAmountOption,
  parseBoolean,
  partitionsOption,
  redisClusterOption,
  redisListOption,
  redisUrlOption,
  responsePrefixOption,
  routeByOption,
  runCommand,
  streamOption,
  useHashtagOption,
} from "@fastpix/cli";
import { requireRedis } from "@fastpix/infra";
import { formatCount, UserError } from "@fastpix/pix";
import { inject, type InjectReport } from "./injector.ts";
import { DESIGN_NAMES, type DesignName, enqueuerFor } from "@fastpix/queue";
import { RANDOM_BACKEND_IDS } from "./payments.ts";
import { printReport } from "./report.ts";

const program = new Command("inject")
  .description(
    "Inject many PIX payments; with --await, wait for every confirmation and measure latency.",
  )
  .addOption(redisUrlOption())
  .addOption(redisClusterOption())
  .addOption(streamOption())
  .addOption(partitionsOption())
  .addOption(routeByOption())
  .addOption(responsePrefixOption())
  .addOption(backendIdOption())
  .addOption(
    new Option("--num-requests <n>", "payments to send").env("NUM_REQUESTS").default(1000)
      .argParser(intIn(1, 100_000_000)),
  )
  .addOption(
    new Option("--batch-size <n>", "payments per round trip").env("BATCH_SIZE").default(250)
      .argParser(intIn(1, 10_000)),
  )
  .addOption(
    new Option("--num-threads <n>", "concurrent connections").env("NUM_THREADS").default(5)
      .argParser(intIn(1, 256)),
  )
  .addOption(
    new Option("--randomize-backend-id [bool]", "spread payments over backends 1..4")
      .env("RANDOMIZE_BACKEND_ID").default(false).preset("true").argParser(parseBoolean),
  )
  .addOption(
    new Option("--design <design>", "queue design to feed").choices(DESIGN_NAMES)
      .default("stream" as DesignName),
  )
  .addOption(
    new Option("--num-lists <n>", "list designs: spread batches over <base>_0..n-1")
      .env("NUM_LISTS").default(1).argParser(intIn(1, 1024)),
  )
  .addOption(redisListOption())
  .addOption(useHashtagOption())
  .addOption(
    new Option("--rate <per-second>", "open-model arrival rate (default: full speed)")
      .argParser(intIn(1, 10_000_000)),
  )
  .option("--await", "wait for every confirmation; report throughput and latency", false)
  .addOption(
    new Option("--await-timeout-ms <ms>", "give up when no confirmation came for this long")
      .default(30_000).argParser(intIn(1, 3_600_000)),
  )
  .addOption(
    new Option("--amount <brl>", "fixed amount (default: random)").argParser(parseAmountOption),
  )
  .addOption(
    new Option("--wait-replicas <n>", "WAIT for n replicas after each batch (durability)")
      .env("WAIT_REPLICAS").default(0).argParser(intIn(0, 16)),
  )
  .option("--json", "print the report as JSON on stdout", false)
  .action(async (opts) => {
    if (opts.await && opts.design === "basic") {
      throw new UserError(
        "Cannot --await with --design basic: the basic consumer sends no confirmations " +
          "(deno task compare-fifo-vs-stream estimates its latency from processed_count)",
      );
    }
    if (opts.partitions > 0 && opts.design !== "stream") {
      throw new UserError(
        `Cannot use --partitions with --design ${opts.design}: only the stream design is partitioned`,
      );
    }
    const target = { url: opts.redisUrl, cluster: opts.redisCluster };
    await requireRedis(target);
    const tty = Deno.stderr.isTerminal() && !opts.json;
    const report: InjectReport = await inject({
      redisUrl: opts.redisUrl,
      redisCluster: opts.redisCluster,
      enqueuer: enqueuerFor(opts.design, {
        stream: opts.stream,
        numLists: opts.numLists,
        listNaming: listNaming(opts),
        streamOptions: {
          partitions: opts.partitions,
          routeBy: opts.routeBy,
          waitReplicas: opts.waitReplicas,
        },
      }),
      layout: { partitions: opts.partitions, routeBy: opts.routeBy },
      numRequests: opts.numRequests,
      batchSize: opts.batchSize,
      numThreads: opts.numThreads,
      backendIds: opts.randomizeBackendId ? RANDOM_BACKEND_IDS : [opts.backendId],
      responsePrefix: opts.responsePrefix,
      rate: opts.rate,
      awaitConfirmations: opts.await,
      awaitTimeoutMs: opts.awaitTimeoutMs,
      amountCents: opts.amount,
      onProgress: tty
        ? (p) => progressBar(p.sent, p.answered, p.total, p.elapsedS, opts.await)
        : undefined,
    });
    if (tty) console.error();
    if (opts.json) console.log(JSON.stringify(report, null, 2));
    else printReport(report);
    if (report.unanswered > 0) {
      throw new UserError(
        `${formatCount(report.unanswered)} payments got no confirmation: is a consumer running?`,
      );
    }
  });

function progressBar(
  sent: number,
  answered: number,
  total: number,
  elapsedS: number,
  waiting: boolean,
) {
  const done = waiting ? answered : sent;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = elapsedS > 0 ? Math.round(done / elapsedS) : 0;
  const line =
    `[${"#".repeat(filled)}${".".repeat(width - filled)}] sent ${formatCount(sent)}/${
      formatCount(total)
    }` + (waiting ? ` confirmed ${formatCount(answered)}` : "") + ` ${formatCount(rate)}/s`;
  Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}`));
}

if (import.meta.main) await runCommand(program);
