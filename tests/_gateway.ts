/**
 * Gateway test fixtures: an in-process gateway on a free port, an in-process stream consumer, a
 * private Redis with both (`await using s = await stack()`), and requests to them.
 * @module
 */
import assert from "node:assert/strict";
import { CONSUMER_DEFAULTS, StreamConsumer } from "@fastpix/consumer";
import type { DesignTarget } from "@fastpix/queue";
import {
  GATEWAY_DEFAULTS,
  type GatewayOptions,
  parsePrometheusText,
  type RunningGateway,
  serveGateway,
} from "@fastpix/gateway";
import { DEFAULT_LIMITS } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import { client, startRedis, waitFor } from "./_helpers.ts";

export const TARGET: DesignTarget = { stream: "pix_payments", group: "pix_consumers", numLists: 1 };

export function startGateway(
  redisUrl: string,
  overrides: Partial<GatewayOptions> = {},
): Promise<RunningGateway> {
  return serveGateway({
    redisUrl,
    design: "stream",
    target: TARGET,
    responsePrefix: "backend_bacen_response_",
    maxBodyBytes: GATEWAY_DEFAULTS.maxBodyBytes,
    waitTimeoutMs: 5000,
    limits: DEFAULT_LIMITS,
    batchMax: GATEWAY_DEFAULTS.batchMax,
    batchDelayMs: GATEWAY_DEFAULTS.batchDelayMs,
    port: 0,
    hostname: "127.0.0.1",
    reusePort: false,
    ...overrides,
  });
}

export function startConsumer(url: string) {
  const consumer = new StreamConsumer({
    ...CONSUMER_DEFAULTS,
    redisUrl: url,
    stream: "pix_payments",
    group: "pix_consumers",
    consumerName: "gateway_test_consumer",
    responsePrefix: "backend_bacen_response_",
    blockMs: 50,
  });
  const running = consumer.run();
  const stop = async () => {
    consumer.stop();
    await running;
  };
  return { stop, [Symbol.asyncDispose]: stop };
}

export async function postPayment(base: string, body: unknown, query = "") {
  const response = await fetch(`${base}/pix/payments${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: await response.json(),
  };
}

/** Everything the stack holds for one test, stopped in reverse order. */
export async function stack(
  options: { consumer?: boolean; gateway?: Partial<GatewayOptions> } = {},
) {
  const server = await startRedis();
  const redis = client(server.url);
  const consumer = options.consumer === false ? undefined : startConsumer(server.url);
  if (consumer !== undefined) {
    await waitFor("the consumer group", async () => (await groupCount(redis)) === 1);
  }
  const gateway = await startGateway(server.url, options.gateway);
  return {
    server,
    redis,
    base: gateway.url,
    gateway,
    async [Symbol.asyncDispose]() {
      await gateway.stop();
      await consumer?.stop();
      redis.disconnect();
      await server.stop();
    },
  };
}

export async function groupCount(redis: Redis): Promise<number> {
  try {
    return (await redis.xinfo("GROUPS", "pix_payments") as unknown[]).length;
  } catch {
    return 0;
  }
}

export async function metricsOf(base: string) {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}
