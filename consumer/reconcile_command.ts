/**
 * `deno task reconcile`: after an incident, checks that the counters, the confirmation streams and
 * (with POSTGRES_DSN) the PostgreSQL ledger agree; lists every difference with the transaction ids
 * involved. Exit code 0: they agree; 3: they do not; 2: Redis or PostgreSQL cannot be used.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { createRedis, requireRedis } from "@fastpix/infra";
import {
  intIn,
  partitionsOption,
  postgresDsnOption,
  redisUrlOption,
  responsePrefixOption,
  runCommand,
  streamOption,
} from "@fastpix/cli";
import { type Postgres, postgresUserError, requirePostgres, requireSchema } from "./ledger/mod.ts";
import { reconcile, type ReconcileReport } from "./reconcile.ts";

/** Exit code when the sources disagree. */
export const EXIT_DISAGREE = 3;

/** The report as text: what was read, then each difference with its transactions. */
export function formatReconcileReport(report: ReconcileReport, stream: string): string {
  const { counters: k, confirmations: c, ledger: l } = report;
  const trimmed = c.missingEntries === null
    ? "retention unknown (Redis before 7)"
    : c.missingEntries === 0
    ? "none trimmed"
    : `${c.missingEntries} entries trimmed or deleted`;
  const lines = [
    `reconcile ${stream}: counters, ${c.streams.length} confirmation streams` +
    (l ? ", PostgreSQL ledger" : " (no POSTGRES_DSN: ledger not compared)"),
    `  counters       processed_count ${k.processedCount}, total_amount_cents ` +
    `${k.totalAmountCents} (${k.totalAmount})`,
    `  confirmations  ${c.confirmed} confirmed (${c.confirmedAmount}) for ${c.transactions} ` +
    `transactions, ${c.duplicates} duplicate, ${c.rejected} rejected; ${trimmed}`,
  ];
  if (l) {
    lines.push(
      `  ledger         ${l.done} done (${l.doneAmount}), ${l.errors} error; ` +
        (l.pendingRows + l.pendingBatches === 0 ? "outbox empty" : `${l.pendingRows} rows pending`),
    );
  }
  if (report.agree) {
    lines.push(
      `agree: the counters${
        l ? ", the confirmations and the ledger" : " and the confirmations"
      } match`,
    );
    return lines.join("\n");
  }
  lines.push(`${report.differences.length} differences:`);
  for (const d of report.differences) {
    let line = `  ${d.kind}: ${d.message}`;
    if (d.transactions > 0) {
      const more = d.transactions - d.transactionIds.length;
      line += ` (${d.transactions} transaction${d.transactions === 1 ? "" : "s"}): ` +
        d.transactionIds.join(", ") +
        (more > 0 ? ` … and ${more} more` : "");
    }
    lines.push(line);
  }
  return lines.join("\n");
}

const program = new Command("reconcile")
  .description(
    "Check that the counters, the confirmation streams and the PostgreSQL ledger agree.",
  )
  .addOption(redisUrlOption())
  .addOption(streamOption())
  .addOption(partitionsOption())
  .addOption(responsePrefixOption())
  .addOption(postgresDsnOption())
  .addOption(
    new Option("--max-ids <n>", "transaction ids listed per difference").default(20)
      .argParser(intIn(1, 1_000_000)),
  )
  .option("--json", "print the report as JSON", false)
  .addHelpText(
    "after",
    `
Compares processed_count / total_amount_cents / total_amount with the "confirmed" entries of every
stream whose name starts with the response prefix (within their retention: once a stream was
trimmed, the counters may only be higher), finds transactions confirmed more than once, and with
POSTGRES_DSN compares the ledger's done rows with both. Run it with the consumers stopped or idle:
counters that move meanwhile are reported. Single Redis only (not --redis-cluster).

Exit codes: 0 they agree; ${EXIT_DISAGREE} they do not (each difference is listed with the
transaction ids involved); 2 Redis or PostgreSQL cannot be used.`,
  )
  .action(async (opts) => {
    await requireRedis(opts.redisUrl);
    let db: Postgres | undefined;
    if (opts.postgresDsn) {
      db = await requirePostgres(opts.postgresDsn);
      await db.run((sql) => requireSchema(sql)).catch(async (error) => {
        await db!.end(1000);
        throw postgresUserError(db!, error);
      });
    }
    const sql = db?.sql;
    const redis = createRedis(opts.redisUrl, { name: "reconcile" });
    try {
      const report = await reconcile(redis, {
        stream: opts.stream,
        partitions: opts.partitions,
        responsePrefix: opts.responsePrefix,
        sql,
        maxIds: opts.maxIds,
      });
      console.log(
        opts.json ? JSON.stringify(report, null, 2) : formatReconcileReport(report, opts.stream),
      );
      if (!report.agree) Deno.exitCode = EXIT_DISAGREE;
    } finally {
      redis.disconnect();
      await db?.end(1000);
    }
  });

if (import.meta.main) await runCommand(program);
