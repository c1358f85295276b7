/**
 * Redis infrastructure: connections (single node or cluster), the Lua script loader, stream
 * partitions, stream helpers, backoff, logging and latency histograms.
 * @module
 */
export * from "./redis.ts";
export * from "./redis_lifecycle.ts";
export * from "./unhealable.ts";
export * from "./lua_script.ts";
export * from "./partitions.ts";
export * from "./log.ts";
export * from "./histogram.ts";
export * from "./streams.ts";
export * from "./consumer_gc.ts";
export * from "./async.ts";
