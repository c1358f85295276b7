/**
 * Rinha de Backend 2025 mode: the payments API, the routing workers with their elected health
 * checker, and the Redis store that keeps the summary exact.
 * @module
 */
export * from "./store.ts";
export * from "./router.ts";
export * from "./processor_client.ts";
export * from "./health.ts";
export * from "./worker.ts";
export * from "./api.ts";
