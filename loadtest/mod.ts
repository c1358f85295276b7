/**
 * Load tests: the end-to-end benchmark (and the design comparison, k6 scenarios).
 * @module
 */
export * from "./bench.ts";
