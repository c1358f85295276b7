/**
 * The optional PostgreSQL ledger: migrations, the outbox written with each batch, the writer that
 * moves it to PostgreSQL, and the statistics read from its views.
 * @module
 */
export * from "./ledger.ts";
export * from "./migrate.ts";
export * from "./outbox.ts";
export * from "./ledger_writer.ts";
export * from "./postgres.ts";
export * from "./write_rows.ts";
export * from "./stats.ts";
