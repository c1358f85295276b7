/**
 * `deno task stats`: the PostgreSQL ledger's report (totals by status, the last hour's activity and
 * top errors, consumer performance), read from its views. A PostgreSQL that does not answer within
 * the connect and statement timeouts ends it with one line.
 * @module
 */
import { Option } from "@commander-js/extra-typings";
import { intIn, postgresCommand, postgresTimeouts, runCommand } from "@fastpix/cli";
import {
  formatLedgerStats,
  postgresUserError,
  readLedgerStats,
  requirePostgres,
  requireSchema,
} from "./ledger/mod.ts";

const program = postgresCommand("stats")
  .description("Print the PostgreSQL ledger's statistics.")
  .addOption(
    new Option("--top <n>", "error codes to show").default(5).argParser(intIn(1, 100)),
  )
  .option("--json", "print the statistics as JSON", false)
  .action(async (opts) => {
    const db = await requirePostgres(opts.postgresDsn, postgresTimeouts(opts));
    try {
      const stats = await db.run(async (sql) => {
        await requireSchema(sql);
        return await readLedgerStats(sql, { top: opts.top });
      }).catch((error) => {
        throw postgresUserError(db, error);
      });
      console.log(opts.json ? JSON.stringify(stats, null, 2) : formatLedgerStats(stats));
    } finally {
      await db.end(1000);
    }
  });

if (import.meta.main) await runCommand(program);
