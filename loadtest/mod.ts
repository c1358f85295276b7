/**
 * Load tests: the end-to-end benchmark, the design comparison (and k6 scenarios).
 * @module
 */
export * from "./bench.ts";
export * from "./compare.ts";
export * from "./ledger.ts";
export * from "./design_consumers.ts";
export * from "./compare_report.ts";
export * from "./cluster_bench.ts";
export * from "./gateway_bench.ts";
export * from "./gateway_process.ts";
export * from "./waiter_storm.ts";
export * from "./rinha_bench.ts";
export * from "./machine.ts";
export * from "./memory_bench.ts";
