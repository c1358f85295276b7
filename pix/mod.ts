/**
 * The payment domain of fastpix, with no I/O: exact money and its formatting for people, the
 * message schema and its validation, error codes, PIX keys, key names and ids.
 * @module
 */
export * from "./money.ts";
export * from "./format.ts";
export * from "./validation.ts";
export * from "./pix_keys.ts";
export * from "./keys.ts";
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./fingerprint.ts";
export * from "./schema.ts";
export * from "./strict_json.ts";
