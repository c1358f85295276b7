/**
 * The shared core of fastpix: config options, message schema and validation, key names, exact
 * money, Redis connections and private Redis servers.
 * @module
 */
export * from "./money.ts";
export * from "./validation.ts";
export * from "./pix_keys.ts";
export * from "./keys.ts";
export * from "./errors.ts";
export * from "./log.ts";
export * from "./ids.ts";
export * from "./histogram.ts";
export * from "./options.ts";
export * from "./cli.ts";
export * from "./redis.ts";
export * from "./redis_server.ts";
export * from "./postgres_server.ts";
export * from "./redis_cluster.ts";
export * from "./partitions.ts";
export * from "./schema.ts";
export * from "./lua_script.ts";
export * from "./child_tool.ts";
export * from "./rinha_wire.ts";
