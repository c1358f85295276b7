/**
 * The stream consumer (the production design) and its pool.
 * @module
 */
export * from "./stream_consumer.ts";
export * from "./consumer_pool.ts";
export { compareIds, safeTrimId } from "./trim.ts";
export * from "./basic_consumer.ts";
