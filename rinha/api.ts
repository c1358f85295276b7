/**
 * The Rinha backend's HTTP API on `Deno.serve` (several processes share the port with
 * `reusePort`): `POST /payments` validates and queues (one Lua call, 202), `GET /payments-summary`
 * reads the precomputed buckets (one Lua call), `POST /purge-payments` forgets everything.
 * @module
 */
import { centsFromJsonNumber, parseInstantRange, UUID_PATTERN } from "./wire.ts";
import { createLogger, createRedis, errorMessage, type Logger, type Redis } from "@fastpix/infra";
import { formatCents } from "@fastpix/pix";
import { RinhaStore, type Summary } from "./store.ts";

/** Largest accepted request body, in bytes. */
export const MAX_BODY_BYTES = 4096;

/** A valid payment request, or why it is not one (status 400 or 422). */
export type PaymentRequest =
  | { ok: true; correlationId: string; cents: number }
  | { ok: false; status: 400 | 413 | 422; error: string };

/**
 * Validates a `POST /payments` body: `correlationId` a UUID (lower-cased: processors compare them
 * case-insensitively), `amount` a JSON number above zero with at most 2 decimals.
 */
export function parsePaymentRequest(text: string): PaymentRequest {
  if (text.length > MAX_BODY_BYTES) {
    return { ok: false, status: 413, error: `Body is over ${MAX_BODY_BYTES} bytes` };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, status: 400, error: "Cannot parse the body as JSON" };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, status: 400, error: "Body must be a JSON object" };
  }
  const { correlationId, amount } = body as Record<string, unknown>;
  if (correlationId === undefined) {
    return { ok: false, status: 422, error: "Field correlationId is missing" };
  }
  if (typeof correlationId !== "string" || !UUID_PATTERN.test(correlationId)) {
    return { ok: false, status: 422, error: "Field correlationId must be a UUID" };
  }
  if (amount === undefined) return { ok: false, status: 422, error: "Field amount is missing" };
  const cents = centsFromJsonNumber(amount);
  if (cents === undefined) {
    return {
      ok: false,
      status: 422,
      error: "Field amount must be a number above zero with at most 2 decimals",
    };
  }
  return { ok: true, correlationId: correlationId.toLowerCase(), cents };
}

/** The summary as the challenge wants it, amounts with exactly two decimals. */
export function summaryJson(summary: Summary): string {
  const part = (s: { count: number; cents: number }) =>
    `{"totalRequests":${s.count},"totalAmount":${formatCents(s.cents)}}`;
  return `{"default":${part(summary.default)},"fallback":${part(summary.fallback)}}`;
}

/** Settings of {@link RinhaApi.start}. */
export interface ApiOptions {
  redisUrl: string;
  /** 0 picks a free port. */
  port: number;
  hostname?: string;
  /** Share the port with other processes (Linux balances connections between them). */
  reusePort?: boolean;
  logger?: Logger;
}

const JSON_HEADERS = { "content-type": "application/json" };
const jsonResponse = (status: number, body: string) =>
  new Response(body, { status, headers: JSON_HEADERS });
const errorResponse = (status: number, error: string) =>
  jsonResponse(status, JSON.stringify({ error }));

/** One API process. */
export class RinhaApi {
  readonly redis: Redis;
  #store: RinhaStore;
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #log: Logger;

  private constructor(options: ApiOptions) {
    this.#log = options.logger ?? createLogger("rinha api");
    this.redis = createRedis(options.redisUrl, {
      name: `rinha_api_${Deno.pid}`,
      logger: this.#log,
      failFast: true,
    });
    this.#store = new RinhaStore(this.redis);
  }

  #listen(options: ApiOptions): void {
    this.#server = Deno.serve({
      port: options.port,
      hostname: options.hostname ?? "127.0.0.1",
      reusePort: options.reusePort ?? false,
      onListen: () => {},
    }, (request) => this.handle(request));
  }

  /** Connects to Redis, then listens. */
  static async start(options: ApiOptions): Promise<RinhaApi> {
    const api = new RinhaApi(options);
    await api.redis.connect();
    try {
      api.#listen(options);
    } catch (error) {
      api.redis.disconnect();
      throw error;
    }
    return api;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Routes one request. */
  async handle(request: Request): Promise<Response> {
    const method = request.method;
    const url = request.url;
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const queryStart = url.indexOf("?", pathStart);
    const path = queryStart < 0 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
    try {
      if (path === "/payments" && method === "POST") return await this.#pay(request);
      if (path === "/payments-summary" && method === "GET") {
        const range = parseInstantRange(
          new URLSearchParams(queryStart < 0 ? "" : url.slice(queryStart + 1)),
        );
        if (typeof range === "string") return errorResponse(400, range);
        const summary = await this.#store.summary(range.fromMs, range.toMs);
        return jsonResponse(200, summaryJson(summary));
      }
      if (path === "/purge-payments" && method === "POST") {
        await this.#store.purge();
        return jsonResponse(200, '{"message":"All payments purged."}');
      }
      return errorResponse(404, `No route for ${method} ${path}`);
    } catch (error) {
      this.#log.warn(`${method} ${path} failed: ${errorMessage(error)}`);
      return errorResponse(503, `Cannot serve ${method} ${path}: ${errorMessage(error)}`);
    }
  }

  async #pay(request: Request): Promise<Response> {
    const length = Number(request.headers.get("content-length") ?? 0);
    if (length > MAX_BODY_BYTES) {
      await request.body?.cancel();
      return errorResponse(413, `Body is over ${MAX_BODY_BYTES} bytes`);
    }
    const parsed = parsePaymentRequest(await request.text());
    if (!parsed.ok) return errorResponse(parsed.status, parsed.error);
    const queued = await this.#store.enqueue(parsed.correlationId, parsed.cents);
    return jsonResponse(
      202,
      `{"correlationId":"${parsed.correlationId}","status":"${queued ? "queued" : "duplicate"}"}`,
    );
  }

  /** Stops listening and closes the Redis connection. */
  async close(): Promise<void> {
    await this.#server.shutdown();
    this.redis.disconnect();
  }

  /** Closes the API (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
