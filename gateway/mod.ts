/**
 * The HTTP ingress (`deno task gateway`): validation, micro-batched enqueue into any design,
 * `wait=true` confirmations, health and Prometheus metrics.
 * @module
 */
export * from "./server.ts";

export { EnqueueBatcher } from "./batcher.ts";
export { GatewayMetrics, LATENCY_BUCKETS_S } from "./metrics.ts";
export { type MetricsPage, parsePrometheusText, type Sample, sampleValue } from "./prometheus.ts";
export { isJsonContentType, parsePaymentJson, readPaymentRequest } from "./request_body.ts";
export { ConfirmationWaiters } from "./waiters.ts";
