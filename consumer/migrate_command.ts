/**
 * `deno task migrate`: brings the PostgreSQL ledger's schema up to date (versioned, idempotent).
 * Bounded like every PostgreSQL use: a server that does not answer ends it with one line.
 * @module
 */
import { postgresCommand, postgresTimeouts, runCommand } from "@fastpix/cli";
import { loadMigrations, migrate, postgresUserError, requirePostgres } from "./ledger/mod.ts";

const program = postgresCommand("migrate")
  .description("Apply the PostgreSQL ledger's missing migrations (safe to run again).")
  .action(async (opts) => {
    const timeouts = postgresTimeouts(opts);
    const db = await requirePostgres(opts.postgresDsn, timeouts);
    try {
      // One transaction of a few statements per migration, each bounded by the statement timeout.
      const statements = 3 + 2 * (await loadMigrations()).length;
      const { applied, version } = await db.run((sql) => migrate(sql), {
        deadlineMs: timeouts.connectMs + statements * timeouts.statementMs,
      }).catch((error) => {
        throw postgresUserError(db, error);
      });
      console.log(
        applied.length === 0
          ? `ledger schema at ${db.where} already at version ${version}`
          : `applied ${applied.join(", ")}; ledger schema at version ${version}`,
      );
    } finally {
      await db.end(1000);
    }
  });

if (import.meta.main) await runCommand(program);
