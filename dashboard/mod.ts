/**
 * The web dashboard (`deno task dashboard`): {@link serveDashboard} serves one live page over
 * Server-Sent Events, built from the monitor's snapshot; {@link lookupPayment} finds where a
 * payment is at a bounded cost; dead letters are replayed and purged with the `dlq` library.
 * @module
 */
export * from "./server.ts";
export * from "./sampler.ts";
export * from "./history.ts";
export * from "./view.ts";
export * from "./lookup.ts";
export * from "./dead_letters.ts";
export * from "./masking.ts";
export * from "./auth.ts";
