/**
 * The real-time monitor (`deno task monitor`): {@link snapshot} reads everything in one pipelined
 * round, {@link renderScreen} and {@link renderPlain} draw it, {@link runTui} keeps it live.
 * @module
 */
export * from "./snapshot.ts";
export * from "./key_scanner.ts";
export * from "./rate.ts";
export * from "./panels.ts";
export * from "./render.ts";
export * from "./format.ts";
export * from "./tui.ts";
export * from "./exporter.ts";
export * from "./dlq_codes.ts";
