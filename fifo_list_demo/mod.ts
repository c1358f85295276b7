/**
 * The list designs: the plain list FIFO (LPUSH/BRPOP, no acknowledgement) and the reliable list
 * (BLMOVE into a processing list, a reaper for dead consumers).
 * @module
 */
export * from "./payload.ts";
export * from "./list_batch.ts";
export * from "./list_consumer.ts";
export * from "./reliable_list_consumer.ts";
