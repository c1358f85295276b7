/**
 * Backend simulators: payment factory, enqueuers, confirmation watcher and the injector.
 * @module
 */
export * from "./payments.ts";
export * from "./enqueue.ts";
export * from "./confirmations.ts";
export * from "./injector.ts";
export { printReport } from "./report.ts";
