/**
 * The HTTP serving layer of the gateway and the Rinha API: an HTTP/1.1 server with timeouts,
 * connection and in-flight caps and bounded bodies; port sharing among the processes of one stack
 * only; API keys compared in constant time.
 * @module
 */
export * from "./server.ts";
export * from "./port_lock.ts";
export * from "./api_keys.ts";
