/**
 * Load tests: the end-to-end benchmark (and the design comparison, k6 scenarios).
 * @module
 */
export * from "./bench.ts";
export * from "./gateway_bench.ts";
export * from "./gateway_process.ts";
