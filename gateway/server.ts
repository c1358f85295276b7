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
  MemoryTrimmer,
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
import { GatewayMetrics, type Refusal, type Route } from "./metrics.ts";
import { type HttpRejection, readPaymentRequest } from "./request_body.ts";
import { ConfirmationWaiters, WAITER_DEFAULTS, WaitersFull } from "./waiters.ts";

/** Settings of a {@link Gateway}. */
export interface GatewayOptions {
  redisUrl: string;
  /** Design used when a request names none (`--design`). */
  design: DesignName;
  /**
   * Designs a request may name with `?design=` (`ALLOWED_DESIGNS`; default: just {@link design},
   * which must be among them). Others are refused with 400.
   */
  allowedDesigns?: readonly DesignName[];
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
  /** Most `wait=true` requests waiting at once (`MAX_WAITERS`); more get 503. */
  maxWaiters?: number;
  /** Most confirmation streams (backends) watched at once (`MAX_WATCHED_BACKENDS`). */
  maxWatchedBackends?: number;
  /** A confirmation stream no request waited on for this long stops being read, ms. */
  watchIdleMs?: number;
  /**
   * Payments waiting in a design's queue (not yet delivered plus pending) past which new ones get
   * 503 with `Retry-After` (`MAX_QUEUE_LAG`; 0: no limit).
   */
  maxQueueLag?: number;
  /** `/health` and 503 bodies name the Redis address and its errors (`--health-details`). */
  healthDetails?: boolean;
  logger?: Logger;
}

/** Defaults of the tunables (the command's flags show them). */
export const GATEWAY_DEFAULTS = {
  port: 9999,
  maxBodyBytes: 64 * 1024,
  waitTimeoutMs: 5000,
  batchMax: 256,
  batchDelayMs: 1,
  maxWaiters: WAITER_DEFAULTS.maxWaiters,
  maxWatchedBackends: WAITER_DEFAULTS.maxStreams,
  watchIdleMs: WAITER_DEFAULTS.idleMs,
  maxQueueLag: 1_000_000,
} as const;

/** How long a design's queue lag, once read, answers for every request, ms. */
export const QUEUE_LAG_CACHE_MS = 100;

/** What a refused client is told to wait before trying again, s. */
const RETRY_AFTER_S = "1";

interface Lane {
  binding: DesignBinding;
  batcher: EnqueueBatcher;
  /** The last queue lag read (`undefined`: Redis did not say) and when, `performance.now()`. */
  lag?: { value: number | undefined; at: number };
  lagRead?: Promise<number | undefined>;
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

/** What is wrong with a default design and an allowlist, as one line (`undefined`: nothing). */
export function allowedDesignsProblem(
  design: DesignName,
  allowed: readonly DesignName[] | undefined,
): string | undefined {
  if (allowed === undefined || allowed.includes(design)) return undefined;
  return `The default design ${design} (--design, GATEWAY_DESIGN) is not among the allowed ` +
    `designs ${allowed.join(",") || "(none)"} (--allowed-designs, ALLOWED_DESIGNS)`;
}

/** The request handler and the state behind it (one Redis connection, lanes, waiters, metrics). */
export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly redis: Redis;
  /** The designs requests may name, the default first. */
  readonly allowedDesigns: readonly DesignName[];
  #lanes = new Map<DesignName, Lane>();
  #waiters: ConfirmationWaiters;
  #log: Logger;
  /** After a storm of requests, the memory their connections held goes back to the OS. */
  #trimmer = new MemoryTrimmer();

  constructor(readonly options: GatewayOptions) {
    const problem = allowedDesignsProblem(options.design, options.allowedDesigns);
    if (problem !== undefined) throw new Error(problem);
    this.allowedDesigns = [
      options.design,
      ...(options.allowedDesigns ?? []).filter((d) => d !== options.design),
    ];
    this.#log = options.logger ?? createLogger("gateway");
    // Fail fast: during an outage requests get 503 at once instead of piling up.
    this.redis = createRedis(options.redisUrl, {
      name: "gateway",
      logger: this.#log,
      failFast: true,
    });
    this.#waiters = new ConfirmationWaiters(options.redisUrl, options.responsePrefix, this.#log, {
      maxWaiters: options.maxWaiters ?? GATEWAY_DEFAULTS.maxWaiters,
      maxStreams: options.maxWatchedBackends ?? GATEWAY_DEFAULTS.maxWatchedBackends,
      idleMs: options.watchIdleMs ?? GATEWAY_DEFAULTS.watchIdleMs,
    });
  }

  /** Requests waiting for a confirmation now, and the confirmation streams watched for them. */
  get waiting(): { requests: number; watchedStreams: number } {
    return { requests: this.#waiters.size, watchedStreams: this.#waiters.watchedStreams };
  }

  /** Connects to Redis; throws when it does not answer. */
  async connect(): Promise<void> {
    await this.redis.connect();
    for (const design of this.allowedDesigns) this.#lane(design);
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
      response = json(500, { error: "internal", message: "Internal error: see the gateway's log" });
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
          `Unknown design ${JSON.stringify(name.slice(0, 40))}: use ${this.#served()}`,
        ),
      };
    }
    if (!this.allowedDesigns.includes(name)) {
      return {
        response: reject(
          400,
          ErrorCode.DESIGN_NOT_ALLOWED,
          `Design ${name} is not served here: use ${this.#served()}`,
        ),
      };
    }
    return { lane: this.#lane(name) };
  }

  #served(): string {
    const [first, ...rest] = this.allowedDesigns;
    return rest.length === 0 ? first : `${rest.join(", ")} or ${first} (the default)`;
  }

  /** A 503 with `Retry-After`, counted as refused for `reason`. */
  #refuse(reason: Refusal, code: ErrorCodeValue, message: string): Response {
    this.metrics.refused(reason);
    const response = reject(503, code, message);
    response.headers.set("retry-after", RETRY_AFTER_S);
    return response;
  }

  /**
   * The lane's queue lag (undelivered plus pending payments), read at most once per
   * {@link QUEUE_LAG_CACHE_MS}; `undefined` when Redis does not say (the enqueue will tell).
   */
  async #queueLag(lane: Lane): Promise<number | undefined> {
    if (lane.lag !== undefined && performance.now() - lane.lag.at < QUEUE_LAG_CACHE_MS) {
      return lane.lag.value;
    }
    lane.lagRead ??= withTimeout(lane.binding.depth(this.redis), 1000)
      .catch(() => undefined)
      .then((value) => {
        lane.lag = { value, at: performance.now() };
        lane.lagRead = undefined;
        return value;
      });
    return await lane.lagRead;
  }

  /** The 503 for a queue past `maxQueueLag`, or `undefined` to go on. */
  async #lagRefusal(lane: Lane): Promise<Response | undefined> {
    const max = this.options.maxQueueLag ?? GATEWAY_DEFAULTS.maxQueueLag;
    if (max <= 0) return undefined;
    const lag = await this.#queueLag(lane);
    if (lag === undefined || lag < max) return undefined;
    return this.#refuse(
      "queue_lag",
      ErrorCode.QUEUE_LAG_TOO_HIGH,
      `The ${lane.binding.design} queue holds ${lag} payments not yet processed (at most ` +
        `${max}, MAX_QUEUE_LAG): nothing was accepted, retry later`,
    );
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
    if (waiting && this.#waiters.full) return this.#tooManyWaiters("waiters");
    const busy = await this.#lagRefusal(chosen.lane);
    if (busy !== undefined) return busy;
    const read = await readPaymentRequest(request, {
      maxBodyBytes: this.options.maxBodyBytes,
      limits: this.options.limits,
    });
    if (!read.ok) return errorResponse(read.rejection);
    const payment = read.payment;
    let sending = !waiting;
    try {
      if (!waiting) {
        await batcher.add(payment);
        return json(202, { transaction_id: payment.transaction_id });
      }
      const confirmation = await this.#waiters.waitFor(payment.transaction_id, payment.backend_id, {
        timeoutMs: this.options.waitTimeoutMs,
        send: () => {
          sending = true;
          return batcher.add(payment);
        },
      });
      if (confirmation?.error_code === String(ErrorCode.TRANSACTION_CONFLICT)) {
        // Another payment was counted under this transaction_id: this one was not.
        return json(409, {
          error: ERROR_NAMES.get(ErrorCode.TRANSACTION_CONFLICT),
          code: ErrorCode.TRANSACTION_CONFLICT,
          message: confirmation.error_message ?? "",
          ...confirmation,
          amount: payment.amount,
        });
      }
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
      if (error instanceof WaitersFull) return this.#tooManyWaiters(error.limit);
      // The address and Redis's words stay in the log (the batcher logs enqueue failures).
      if (!sending) {
        this.#warnDeduplicated(
          `cannot watch the confirmations of backend ${payment.backend_id}: ${errorMessage(error)}`,
        );
      }
      const detail = this.options.healthDetails
        ? ` (Redis at ${redactUrl(this.options.redisUrl)}: ${errorMessage(error)})`
        : "";
      return reject(
        503,
        ErrorCode.ENQUEUE_FAILED,
        `Cannot enqueue the payment: Redis failed${detail}; nothing was accepted, ` +
          "retry with the same transaction_id",
      );
    }
  }

  #lastWarning = { message: "", at: 0 };

  /** Logs `message` unless it was the last one logged, less than 10 s ago (one line a storm). */
  #warnDeduplicated(message: string): void {
    const now = Date.now();
    if (message === this.#lastWarning.message && now - this.#lastWarning.at < 10_000) return;
    this.#lastWarning = { message, at: now };
    this.#log.warn(message);
  }

  #tooManyWaiters(limit: WaitersFull["limit"]): Response {
    const { maxWaiters, maxStreams } = this.#waiters.limits;
    return this.#refuse(
      limit === "waiters" ? "waiters" : "watched_backends",
      ErrorCode.TOO_MANY_WAITERS,
      limit === "waiters"
        ? `${maxWaiters} requests are waiting for confirmations already (MAX_WAITERS): ` +
          "retry later, or send without wait=true"
        : `Requests wait on the confirmations of ${maxStreams} backends already ` +
          "(MAX_WATCHED_BACKENDS): retry later, or send without wait=true",
    );
  }

  async #health(url: RequestTarget): Promise<Response> {
    const chosen = this.#designOf(url);
    if ("response" in chosen) return chosen.response;
    const design = chosen.lane.binding.design;
    const details = this.options.healthDetails === true;
    const where = details ? { redis_url: redactUrl(this.options.redisUrl) } : {};
    try {
      await withTimeout(this.redis.ping(), 1000);
    } catch (error) {
      return json(503, {
        status: "unavailable",
        design,
        redis: "down",
        ...where,
        reason: `Redis does not answer${details ? `: ${errorMessage(error)}` : ""}`,
      });
    }
    const designs: Record<string, { consumer: "live" | "missing"; reason?: string }> = {};
    await Promise.all(this.allowedDesigns.map(async (name) => {
      const reason = await withTimeout(this.#lane(name).binding.notReady(this.redis), 1000).catch(
        (error) => `cannot check the design${details ? `: ${errorMessage(error)}` : ""}`,
      );
      designs[name] = reason === undefined ? { consumer: "live" } : { consumer: "missing", reason };
    }));
    // Keys in the order of the allowlist, whatever order the checks finished in.
    const ordered = Object.fromEntries(this.allowedDesigns.map((d) => [d, designs[d]]));
    const reason = designs[design].reason;
    if (reason !== undefined) {
      return json(503, {
        status: "unavailable",
        design,
        redis: "up",
        ...where,
        reason,
        designs: ordered,
      });
    }
    return json(200, { status: "ok", design, redis: "up", ...where, designs: ordered });
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
      watchedStreams: this.#waiters.watchedStreams,
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
    this.#trimmer.stop();
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
