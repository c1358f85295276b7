/**
 * The Rinha backend's HTTP API on fastpix's HTTP server (`@fastpix/http`: header, body and idle
 * timeouts, connection and in-flight caps, bodies cut at `maxBodyBytes`; the processes of one
 * `rinha start` share the port): `POST /payments` validates and queues (one Lua call, 202),
 * `GET /payments-summary` reads the precomputed buckets (one Lua call), `POST /purge-payments`
 * forgets everything. Errors are `{"error": message, "code": n}` with the codes of
 * `ErrorCode` (the gateway's, for the same faults).
 * @module
 */
import { parseInstantRange, UUID_PATTERN } from "./wire.ts";
import { createLogger, createRedis, errorMessage, type Logger, type Redis } from "@fastpix/infra";
import {
  amountRejection,
  ErrorCode,
  type ErrorCodeValue,
  formatCents,
  JsonNumber,
  parseAmountCents,
  parseJsonObject,
} from "@fastpix/pix";
import {
  type HttpLimits,
  httpLimits,
  type HttpReply,
  type HttpServer,
  serveHttp,
} from "@fastpix/http";
import { RinhaStore, type Summary } from "./store.ts";

/** Largest accepted request body by default, in bytes (`--max-body-bytes`). */
export const MAX_BODY_BYTES = 4096;

/** A valid payment request, or why it is not one (status 400, 413 or 422, and a code). */
export type PaymentRequest =
  | { ok: true; correlationId: string; cents: number }
  | { ok: false; status: 400 | 413 | 422; code: ErrorCodeValue; error: string };

const refuse = (status: 400 | 413 | 422, code: ErrorCodeValue, error: string) =>
  ({ ok: false, status, code, error }) as const;

/**
 * Validates a `POST /payments` body with the strict JSON reading the gateway uses: a key given
 * twice is refused (400), `correlationId` a UUID (lower-cased: processors compare them
 * case-insensitively), `amount` a JSON number whose exact source text is above zero with at most 2
 * decimals (`19.999999999999999` is refused, never rounded to 20.00).
 */
export function parsePaymentRequest(text: string, maxBodyBytes = MAX_BODY_BYTES): PaymentRequest {
  if (text.length > maxBodyBytes) {
    return refuse(413, ErrorCode.REQUEST_BODY_TOO_LARGE, `Body is over ${maxBodyBytes} bytes`);
  }
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return refuse(400, parsed.code, parsed.message);
  const body = parsed.object;
  const { correlationId, amount } = body;
  if (correlationId === undefined) {
    return refuse(422, ErrorCode.TRANSACTION_ID_MISSING, "Field correlationId is missing");
  }
  if (typeof correlationId !== "string" || !UUID_PATTERN.test(correlationId)) {
    return refuse(422, ErrorCode.TRANSACTION_ID_INVALID, "Field correlationId must be a UUID");
  }
  if (amount === undefined) return refuse(422, ErrorCode.AMOUNT_MISSING, "Field amount is missing");
  const rule = "Field amount must be a number above zero with at most 2 decimals";
  if (!(amount instanceof JsonNumber)) return refuse(422, ErrorCode.REQUEST_FIELD_TYPE, rule);
  const rejection = amountRejection(amount.source);
  if (rejection !== undefined) return refuse(422, rejection.code, `${rule}: ${rejection.message}`);
  return {
    ok: true,
    correlationId: correlationId.toLowerCase(),
    cents: parseAmountCents(amount.source)!,
  };
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
  /**
   * Share the port with the other processes of one stack (SO_REUSEPORT; Linux balances
   * connections between them). Only for a stack that claimed the port: see `@fastpix/http`.
   */
  reusePort?: boolean;
  /** Timeouts, caps and the body limit (default: {@link MAX_BODY_BYTES}, the serving defaults). */
  limits?: Partial<HttpLimits>;
  logger?: Logger;
}

/** Plain replies: the server writes them without a `Response` round trip (the hot path). */
const jsonResponse = (status: number, body: string): HttpReply => ({ status, body });
/** `{"error": message, "code": n}` (no code when none applies). */
const errorBody = (error: string, code?: ErrorCodeValue) =>
  JSON.stringify(code === undefined ? { error } : { error, code });
const errorResponse = (status: number, error: string, code?: ErrorCodeValue) =>
  jsonResponse(status, errorBody(error, code));

/** One API process. */
export class RinhaApi {
  readonly redis: Redis;
  #store: RinhaStore;
  #server!: HttpServer;
  #log: Logger;
  #maxBodyBytes: number;

  private constructor(options: ApiOptions) {
    this.#log = options.logger ?? createLogger("rinha api");
    this.redis = createRedis(options.redisUrl, {
      name: `rinha_api_${Deno.pid}`,
      logger: this.#log,
      failFast: true,
    });
    this.#store = new RinhaStore(this.redis);
    this.#maxBodyBytes = options.limits?.maxBodyBytes ?? MAX_BODY_BYTES;
  }

  #listen(options: ApiOptions): void {
    this.#server = serveHttp({
      port: options.port,
      hostname: options.hostname ?? "127.0.0.1",
      reusePort: options.reusePort ?? false,
      limits: httpLimits({ ...options.limits, maxBodyBytes: this.#maxBodyBytes }),
      refusalBody: (code, message) => errorBody(message, code),
      onWarning: (message) => this.#log.warn(message),
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
  async handle(request: Request): Promise<HttpReply> {
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
      return errorResponse(404, `No route for ${method} ${path}`, ErrorCode.NOT_FOUND);
    } catch (error) {
      this.#log.warn(`${method} ${path} failed: ${errorMessage(error)}`);
      return errorResponse(503, `Cannot serve ${method} ${path}: ${errorMessage(error)}`);
    }
  }

  async #pay(request: Request): Promise<HttpReply> {
    // The server hands over complete bodies of at most maxBodyBytes: reading it is bounded.
    const parsed = parsePaymentRequest(await request.text(), this.#maxBodyBytes);
    if (!parsed.ok) return errorResponse(parsed.status, parsed.error, parsed.code);
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
