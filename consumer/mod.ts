/**
 * The stream consumer (the production design) and its pool.
 * @module
 */
export * from "./stream_consumer.ts";
export * from "./batch_args.ts";
export * from "./consumer_pool.ts";
export * from "./batch_hooks.ts";
export * from "./batch_refusals.ts";
export * from "./retries.ts";
export * from "./ledger/mod.ts";
export * from "./dlq.ts";
export * from "./basic_consumer.ts";
export * from "./lease.ts";
export * from "./ghosts.ts";
export * from "./data_loss.ts";
export * from "./shutdown.ts";
export * from "./start.ts";
