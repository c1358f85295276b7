/**
 * The HTTP ingress: `POST /pix/payments` validates and enqueues (micro-batched) into the chosen
 * design and answers 202, or with `wait=true` 200 and the consumer's confirmation (504 on timeout);
 * `GET /health` and `GET /metrics`. Served by `@fastpix/http` (timeouts, connection and in-flight
 * caps, bounded bodies, optional TLS), with optional API keys on every route but `/health`; the
 * processes of one `--workers` stack share the port.
 * @module
 */
import {
  createLogger,
  createRedis,
  errorMessage,
  type Logger,
  redactUrl,
  type Redis,
} from "@fastpix/infra";
import { ErrorCode, type ErrorCodeValue, type ValidationLimits } from "@fastpix/pix";
import {
  type ApiKeys,
  type HttpLimits,
  httpLimits,
  type HttpServer,
  presentedKey,
  serveHttp,
} from "@fastpix/http";
import { EnqueueBatcher } from "./batcher.ts";
import {
  bindDesign,
  type DesignBinding,
  type DesignName,
  type DesignTarget,
  isDesignName,
} from "@fastpix/queue";
import { GatewayMetrics, type Route } from "./metrics.ts";
import { type HttpRejection, readPaymentRequest } from "./request_body.ts";
import { ConfirmationWaiters } from "./waiters.ts";

/** Settings of a {@link Gateway}. */
export interface GatewayOptions {
  redisUrl: string;
  /** Design used when a request names none (`--design`). */
  design: DesignName;
  target: DesignTarget;
  responsePrefix: string;
  /** Largest accepted body, bytes. */
  maxBodyBytes: number;
  /** How long `wait=true` waits for the confirmation, ms. */
  waitTimeoutMs: number;
  limits: ValidationLimits;
  /** Most payments per enqueue call. */
  batchMax: number;
  /** Longest a payment waits for others to share its enqueue call, ms. */
  batchDelayMs: number;
  logger?: Logger;
}

/** Defaults of the tunables (the command's flags show them). */
export const GATEWAY_DEFAULTS = {
  port: 9999,
  maxBodyBytes: 64 * 1024,
  waitTimeoutMs: 5000,
  batchMax: 256,
  batchDelayMs: 1,
} as const;

interface Lane {
  binding: DesignBinding;
  batcher: EnqueueBatcher;
}

const JSON_HEADERS = { "content-type": "application/json" };
const ERROR_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name.toLowerCase()]),
);

/** `{error, code, message}` with `status`. */
export function errorResponse(rejection: HttpRejection): Response {
  const body = {
    error: ERROR_NAMES.get(rejection.code) ?? "error",
    code: rejection.code,
    message: rejection.message,
  };
  return new Response(JSON.stringify(body), { status: rejection.status, headers: JSON_HEADERS });
}

const reject = (status: number, code: ErrorCodeValue, message: string) =>
  errorResponse({ status, code, message });

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });

/** The request handler and the state behind it (one Redis connection, lanes, waiters, metrics). */
export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly redis: Redis;
  #lanes = new Map<DesignName, Lane>();
  #waiters: ConfirmationWaiters;
  #log: Logger;

  constructor(readonly options: GatewayOptions) {
    this.#log = options.logger ?? createLogger("gateway");
    // Fail fast: during an outage requests get 503 at once instead of piling up.
    this.redis = createRedis(options.redisUrl, {
      name: "gateway",
      logger: this.#log,
      failFast: true,
    });
    this.#waiters = new ConfirmationWaiters(options.redisUrl, options.responsePrefix, this.#log);
  }

  /** Connects to Redis; throws when it does not answer. */
  async connect(): Promise<void> {
    await this.redis.connect();
    this.#lane(this.options.design);
  }

  #lane(design: DesignName): Lane {
    let lane = this.#lanes.get(design);
    if (lane === undefined) {
      const binding = bindDesign(design, this.options.target);
      const batcher = new EnqueueBatcher(this.redis, binding.enqueuer, {
        maxBatch: this.options.batchMax,
        maxDelayMs: this.options.batchDelayMs,
        onBatch: (size, error) => {
          this.metrics.batch(design, size, error !== undefined);
          if (error !== undefined) {
            this.#log.warn(`enqueue of ${size} payments failed: ${errorMessage(error)}`);
          }
        },
      });
      lane = { binding, batcher };
      this.#lanes.set(design, lane);
    }
    return lane;
  }

  /** Answers one request. */
  handle = async (request: Request): Promise<Response> => {
    const started = performance.now();
    const url = splitUrl(request.url);
    let route: Route = "other";
    let response: Response;
    try {
      switch (url.pathname) {
        case "/pix/payments":
          route = "/pix/payments";
          response = request.method === "POST"
            ? await this.#payment(request, url)
            : notAllowed(request.method, "POST");
          break;
        case "/health":
          route = "/health";
          response = request.method === "GET"
            ? await this.#health(url)
            : notAllowed(request.method, "GET");
          break;
        case "/metrics":
          route = "/metrics";
          response = request.method === "GET"
            ? await this.#metrics()
            : notAllowed(request.method, "GET");
          break;
        default:
          response = reject(404, ErrorCode.NOT_FOUND, `No route ${url.pathname}`);
      }
    } catch (error) {
      this.#log.error(`${request.method} ${url.pathname} failed: ${errorMessage(error)}`);
      response = json(500, { error: "internal", message: errorMessage(error) });
    }
    this.metrics.observe(route, response.status, (performance.now() - started) / 1000);
    return response;
  };

  #designOf(url: RequestTarget): { lane: Lane } | { response: Response } {
    const name = url.searchParams.get("design") ?? this.options.design;
    if (!isDesignName(name)) {
      return {
        response: reject(
          400,
          ErrorCode.DESIGN_UNKNOWN,
          `Unknown design ${
            JSON.stringify(name.slice(0, 40))
          }: use stream, list, list-reliable or basic`,
        ),
      };
    }
    return { lane: this.#lane(name) };
  }

  async #payment(request: Request, url: RequestTarget): Promise<Response> {
    const chosen = this.#designOf(url);
    if ("response" in chosen) return chosen.response;
    const { binding, batcher } = chosen.lane;
    const wait = url.searchParams.get("wait");
    const waiting = wait === "true" || wait === "1";
    if (waiting && !binding.confirms) {
      return reject(
        400,
        ErrorCode.WAIT_UNSUPPORTED,
        `Cannot wait with design ${binding.design}: its consumer sends no confirmations`,
      );
    }
    const read = await readPaymentRequest(request, {
      maxBodyBytes: this.options.maxBodyBytes,
      limits: this.options.limits,
    });
    if (!read.ok) return errorResponse(read.rejection);
    const payment = read.payment;
    try {
      if (!waiting) {
        await batcher.add(payment);
        return json(202, { transaction_id: payment.transaction_id });
      }
      const confirmation = await this.#waiters.waitFor(payment.transaction_id, payment.backend_id, {
        timeoutMs: this.options.waitTimeoutMs,
        send: () => batcher.add(payment),
      });
      if (confirmation !== undefined) return json(200, confirmation);
      this.metrics.confirmationTimeout();
      return errorResponse({
        status: 504,
        code: ErrorCode.CONFIRMATION_TIMEOUT,
        message:
          `No confirmation for ${payment.transaction_id} within ${this.options.waitTimeoutMs} ms ` +
          "(it is enqueued: is a consumer running?)",
      });
    } catch (error) {
      return reject(
        503,
        ErrorCode.ENQUEUE_FAILED,
        `Cannot enqueue the payment: Redis at ${redactUrl(this.options.redisUrl)} failed (${
          errorMessage(error)
        }); nothing was accepted, retry with the same transaction_id`,
      );
    }
  }

  async #health(url: RequestTarget): Promise<Response> {
    const chosen = this.#designOf(url);
    if ("response" in chosen) return chosen.response;
    const design = chosen.lane.binding.design;
    try {
      await withTimeout(this.redis.ping(), 1000);
    } catch (error) {
      return json(503, {
        status: "unavailable",
        design,
        redis: "down",
        reason: `Redis at ${redactUrl(this.options.redisUrl)} does not answer: ${
          errorMessage(error)
        }`,
      });
    }
    const reason = await withTimeout(chosen.lane.binding.notReady(this.redis), 1000).catch(
      (error) => `cannot check the design: ${errorMessage(error)}`,
    );
    if (reason !== undefined) {
      return json(503, { status: "unavailable", design, redis: "up", reason });
    }
    return json(200, { status: "ok", design, redis: "up" });
  }

  async #metrics(): Promise<Response> {
    const queueDepth = new Map<string, number>();
    let redisUp = true;
    for (const [design, lane] of this.#lanes) {
      try {
        queueDepth.set(design, await withTimeout(lane.binding.depth(this.redis), 1000));
      } catch {
        redisUp = false;
      }
    }
    const text = this.metrics.render({
      queueDepth,
      redisUp,
      waitingConfirmations: this.#waiters.size,
    });
    return new Response(text, {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }

  /** Sends what is batched, stops waiting for confirmations and closes the connections. */
  async close(): Promise<void> {
    for (const lane of this.#lanes.values()) {
      await lane.batcher.drain().catch(() => {});
    }
    await this.#waiters.stop();
    this.redis.disconnect();
  }
}

/** The parts of a request URL the routes read. */
interface RequestTarget {
  pathname: string;
  searchParams: URLSearchParams;
}

const NO_PARAMS = new URLSearchParams();

/** Path and query of an absolute request URL, without a full URL parse (hot path). */
function splitUrl(url: string): RequestTarget {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return { pathname: "/", searchParams: NO_PARAMS };
  const query = url.indexOf("?", start);
  if (query < 0) return { pathname: url.slice(start), searchParams: NO_PARAMS };
  return {
    pathname: url.slice(start, query),
    searchParams: new URLSearchParams(url.slice(query + 1)),
  };
}

function notAllowed(method: string, allowed: string): Response {
  const response = reject(
    405,
    ErrorCode.METHOD_NOT_ALLOWED,
    `Method ${method} not allowed: use ${allowed}`,
  );
  response.headers.set("allow", allowed);
  return response;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, fail) =>
      timer = setTimeout(() => fail(new Error(`no answer within ${ms} ms`)), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}

/** Options of {@link serveGateway}. */
export interface ServeOptions extends GatewayOptions {
  port: number;
  hostname: string;
  /**
   * Share the port with the other processes of one stack (SO_REUSEPORT: the kernel balances
   * connections). Only for a stack that claimed the port (`--workers`): see `@fastpix/http`.
   */
  reusePort: boolean;
  /** Timeouts and caps of the serving layer (`maxBodyBytes` is {@link GatewayOptions}'). */
  http?: Partial<HttpLimits>;
  /** PEM certificate chain and key: serve HTTPS only. */
  tls?: { cert: string; key: string };
  /** When set, every route but `/health` needs one of these keys (401 otherwise). */
  apiKeys?: ApiKeys;
}

/** A running gateway. */
export interface RunningGateway {
  gateway: Gateway;
  server: HttpServer;
  /** `http://host:port` (`https://` with TLS). */
  url: string;
  /** Stops accepting, finishes requests in flight, flushes batches, closes connections. */
  stop(): Promise<void>;
}

/** The route a path is counted under in the metrics. */
function routeOf(path: string | undefined): Route {
  return path === "/pix/payments" || path === "/health" || path === "/metrics" ? path : "other";
}

/** Paths open without an API key: load balancers and orchestrators probe them. */
const OPEN_PATHS = new Set(["/health"]);

/**
 * `handle` behind the API key check: a request to a path not in {@link OPEN_PATHS} without one of
 * `keys` gets 401 (counted in the metrics like any answer).
 */
function requireKeys(gateway: Gateway, keys: ApiKeys): (request: Request) => Promise<Response> {
  return async (request) => {
    const path = splitUrl(request.url).pathname;
    if (OPEN_PATHS.has(path) || await keys.accepts(presentedKey(request.headers))) {
      return gateway.handle(request);
    }
    const response = errorResponse({
      status: 401,
      code: ErrorCode.UNAUTHORIZED,
      message: "Send a valid API key: Authorization: Bearer <key> or X-API-Key: <key>",
    });
    response.headers.set("www-authenticate", 'Bearer realm="fastpix"');
    gateway.metrics.observe(routeOf(path), 401, 0);
    return response;
  };
}

/** Connects to Redis and serves the gateway. */
export async function serveGateway(options: ServeOptions): Promise<RunningGateway> {
  const gateway = new Gateway(options);
  await gateway.connect();
  const log = options.logger ?? createLogger("gateway");
  let server: HttpServer;
  try {
    server = serveHttp({
      port: options.port,
      hostname: options.hostname,
      reusePort: options.reusePort,
      tls: options.tls,
      limits: httpLimits({ ...options.http, maxBodyBytes: options.maxBodyBytes }),
      // Refusals of the serving layer (413, 503 past a cap, 408...) count like the handler's.
      onRefused: (r) => gateway.metrics.observe(routeOf(r.path), r.status, 0),
      onWarning: (message) => log.warn(message),
    }, options.apiKeys === undefined ? gateway.handle : requireKeys(gateway, options.apiKeys));
  } catch (error) {
    await gateway.close();
    throw error;
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    gateway,
    server,
    url: `${options.tls ? "https" : "http"}://${host}:${addr.port}`,
    async stop() {
      await server.shutdown();
      await gateway.close();
    },
  };
}
