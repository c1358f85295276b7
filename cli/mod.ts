/**
 * Command-line plumbing shared by every task: flags that mirror env vars, one-line errors, signals.
 * @module
 */
export * from "./options.ts";
export * from "./lifecycle_options.ts";
export * from "./cli.ts";
export * from "./http_options.ts";
