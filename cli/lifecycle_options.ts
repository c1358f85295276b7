/**
 * Flags of the consumers' life cycle: how long a stop may take, whether to wait for Redis at the
 * start, whether an evicting Redis is accepted, and when idle consumers are forgotten. Each mirrors
 * an env var; a flag beats the env var, which beats the default.
 * @module
 */
import { Option } from "@commander-js/extra-typings";
import { intIn, parseBoolean } from "./options.ts";

/** `--shutdown-timeout-ms` / `SHUTDOWN_TIMEOUT_MS`. */
export const shutdownTimeoutOption = (defaultMs: number) =>
  new Option(
    "--shutdown-timeout-ms <ms>",
    "after SIGTERM/SIGINT, how long the batch in hand may take before it is left for others",
  ).env("SHUTDOWN_TIMEOUT_MS").default(defaultMs).argParser(intIn(1, 3_600_000));

/** `--wait-for-redis` / `WAIT_FOR_REDIS`: at the start, wait for Redis instead of stopping. */
export const waitForRedisOption = () =>
  new Option(
    "--wait-for-redis [bool]",
    "wait for a Redis that cannot be reached yet at the start, instead of stopping",
  ).env("WAIT_FOR_REDIS").default(false).preset("true").argParser(parseBoolean);

/** `--allow-eviction` / `ALLOW_EVICTION`: run on a Redis whose maxmemory-policy evicts keys. */
export const allowEvictionOption = () =>
  new Option(
    "--allow-eviction [bool]",
    "run even when Redis may evict keys (maxmemory-policy other than noeviction)",
  ).env("ALLOW_EVICTION").default(false).preset("true").argParser(parseBoolean);

/** `--consumer-gc-ms` / `CONSUMER_GC_MS`: forget group members idle this long holding nothing. */
export const consumerGcOption = (defaultMs: number) =>
  new Option(
    "--consumer-gc-ms <ms>",
    "remove group members idle this long with nothing pending (ghosts of stopped consumers)",
  ).env("CONSUMER_GC_MS").default(defaultMs).argParser(intIn(1, 30 * 24 * 3_600_000));
