/**
 * The queue designs: how payments get into each one and how confirmations come back.
 * @module
 */
export * from "./enqueue.ts";
export * from "./confirmations.ts";
export * from "./design_info.ts";
export * from "./registry.ts";
