/**
 * Redis infrastructure: connections (single node or cluster), the Lua script loader, stream
 * partitions, stream helpers, backoff, logging, latency histograms and API keys.
 * @module
 */
export * from "./redis.ts";
export * from "./redis_lifecycle.ts";
export * from "./redact.ts";
export * from "./unhealable.ts";
export * from "./lua_script.ts";
export * from "./partitions.ts";
export * from "./log.ts";
export * from "./memory.ts";
export * from "./histogram.ts";
export * from "./streams.ts";
export * from "./consumer_gc.ts";
export * from "./async.ts";
export * from "./api_keys.ts";
