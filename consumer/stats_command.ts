/**
 * `deno task stats`: the PostgreSQL ledger's report (totals by status, the last hour's activity and
 * top errors, consumer performance), read from its views.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { intIn, postgresDsnOption, runCommand } from "@fastpix/cli";
import {
  formatLedgerStats,
  readLedgerStats,
  requirePostgres,
  requireSchema,
} from "./ledger/mod.ts";

const program = new Command("stats")
  .description("Print the PostgreSQL ledger's statistics.")
  .addOption(postgresDsnOption())
  .addOption(
    new Option("--top <n>", "error codes to show").default(5).argParser(intIn(1, 100)),
  )
  .option("--json", "print the statistics as JSON", false)
  .action(async (opts) => {
    const sql = await requirePostgres(opts.postgresDsn);
    try {
      await requireSchema(sql);
      const stats = await readLedgerStats(sql, { top: opts.top });
      console.log(opts.json ? JSON.stringify(stats, null, 2) : formatLedgerStats(stats));
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

if (import.meta.main) await runCommand(program);
