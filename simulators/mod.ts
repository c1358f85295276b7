/**
 * Backend simulators: payment factory, enqueuers, confirmation watcher, the injector and the
 * Rinha payment processor simulator.
 * @module
 */
export * from "./payments.ts";
export * from "./injector.ts";
export { printReport } from "./report.ts";
export * from "./processor.ts";
