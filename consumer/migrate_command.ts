/**
 * `deno task migrate`: brings the PostgreSQL ledger's schema up to date (versioned, idempotent).
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { postgresDsnOption, runCommand } from "@fastpix/cli";
import { redactUrl } from "@fastpix/infra";
import { migrate, requirePostgres } from "./ledger/mod.ts";

const program = new Command("migrate")
  .description("Apply the PostgreSQL ledger's missing migrations (safe to run again).")
  .addOption(postgresDsnOption())
  .action(async (opts) => {
    const sql = await requirePostgres(opts.postgresDsn);
    try {
      const { applied, version } = await migrate(sql);
      console.log(
        applied.length === 0
          ? `ledger schema at ${redactUrl(opts.postgresDsn!)} already at version ${version}`
          : `applied ${applied.join(", ")}; ledger schema at version ${version}`,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

if (import.meta.main) await runCommand(program);
