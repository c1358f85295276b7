/**
 * A payment processor simulator with the Rinha de Backend 2025 contract, so the Rinha backend can
 * be built and tested offline:
 *
 * - `POST /payments` `{correlationId, amount, requestedAt}`: waits the configured delay, then
 *   answers 500 when failing (nothing recorded), 422 when the correlation id was already paid,
 *   else records it and answers 200. A payment is recorded even when the client gave up waiting,
 *   as a real processor does; 429 when `maxConcurrent` requests are already in progress.
 * - `GET /payments/service-health`: `{failing, minResponseTime}` (503 while failing, like the
 *   official image), at most one call per `healthWindowMs` (429 otherwise).
 * - `GET /payments/{id}`: the recorded payment, or 404 (no delay, no failure).
 * - Admin, with the `X-Rinha-Token` header: `GET /admin/payments-summary?from&to` (inclusive),
 *   `PUT /admin/configurations/{token,delay,failure}`, `POST /admin/purge-payments`, and, beyond
 *   the contract, `GET /admin/stats` (request counters for tests and benchmarks).
 * @module
 */
import { centsFromJsonNumber, parseInstantRange, UUID_PATTERN } from "@fastpix/rinha/wire";
import { formatCents, parseTimestamp } from "@fastpix/pix";
import { sleep } from "@fastpix/infra";

/** Options of {@link ProcessorSimulator.start}. */
export interface ProcessorOptions {
  /** `default` or `fallback` (any name works; it only shows in `GET /`). */
  name: string;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  hostname?: string;
  /** Fee per transaction in ten-thousandths: 500 is 0.05 (the default). */
  feeBasisPoints?: number;
  /** Admin token (`X-Rinha-Token`); `123` by default, as in the challenge. */
  token?: string;
  /** Delay of `POST /payments`, in ms. */
  delayMs?: number;
  /** Start failing (500 on every payment). */
  failing?: boolean;
  /** Health-check rate limit window (5000 ms in the challenge). */
  healthWindowMs?: number;
  /** Payments in progress beyond which new ones get 429 (0: no limit). */
  maxConcurrent?: number;
}

/** What the simulator has seen, from `GET /admin/stats`. */
export interface ProcessorStats {
  /** `POST /payments` requests that passed validation. */
  paymentRequests: number;
  accepted: number;
  /** 422 answers: the correlation id was already paid. */
  duplicates: number;
  /** 500 answers while failing. */
  failed: number;
  /** 429 answers to payments (too many in progress). */
  overloaded: number;
  /** Payment requests sleeping their delay right now. */
  inProgress: number;
  healthCalls: number;
  /** 429 answers to health checks. */
  healthRateLimited: number;
}

interface Recorded {
  correlationId: string;
  cents: number;
  requestedAtMs: number;
}

const JSON_HEADERS = { "content-type": "application/json" };

function json(status: number, body: unknown): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: JSON_HEADERS,
  });
}

const message = (status: number, text: string) => json(status, { message: text });

/** `v` in units of 10^-`decimals` as a decimal without trailing zeros beyond 2 places. */
function formatScaled(v: bigint, decimals: number): string {
  const scale = 10n ** BigInt(decimals);
  const fraction = (v % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${v / scale}.${fraction.padEnd(2, "0")}`;
}

/** Parses a fee such as `0.05` into ten-thousandths (`500`); `undefined` unless 0 to 1. */
export function parseFee(text: string): number | undefined {
  const m = /^(0|1)(?:\.(\d{1,4}))?$/.exec(text.trim());
  if (m === null) return undefined;
  const value = Number(m[1]) * 10_000 + Number((m[2] ?? "").padEnd(4, "0"));
  return value <= 10_000 ? value : undefined;
}

/** One simulated payment processor on its own HTTP port. */
export class ProcessorSimulator {
  readonly stats: ProcessorStats = {
    paymentRequests: 0,
    accepted: 0,
    duplicates: 0,
    failed: 0,
    overloaded: 0,
    inProgress: 0,
    healthCalls: 0,
    healthRateLimited: 0,
  };
  delayMs: number;
  failing: boolean;
  token: string;
  readonly name: string;
  readonly feeBasisPoints: number;
  #payments = new Map<string, Recorded>();
  #lastHealthAt = -Infinity;
  #opts: ProcessorOptions;
  #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(options: ProcessorOptions) {
    this.#opts = options;
    this.name = options.name;
    this.feeBasisPoints = options.feeBasisPoints ?? 500;
    this.delayMs = options.delayMs ?? 0;
    this.failing = options.failing ?? false;
    this.token = options.token ?? "123";
    this.#server = Deno.serve({
      port: options.port ?? 0,
      hostname: options.hostname ?? "127.0.0.1",
      onListen: () => {},
    }, (request) => this.#handle(request));
  }

  /** Starts listening at once. */
  static start(options: ProcessorOptions): ProcessorSimulator {
    return new ProcessorSimulator(options);
  }

  /** The port it listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    const host = this.#opts.hostname ?? "127.0.0.1";
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${this.port}`;
  }

  /** How many payments are recorded. */
  get recordedCount(): number {
    return this.#payments.size;
  }

  /** Stops listening (waits for requests in progress). */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Stops the server (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    try {
      if (path === "/payments" && method === "POST") return await this.#pay(request);
      if (path === "/payments/service-health" && method === "GET") return this.#health();
      if (path.startsWith("/payments/") && method === "GET") return this.#lookup(path.slice(10));
      if (path === "/" && method === "GET") {
        return json(200, { name: this.name, feePerTransaction: this.feeBasisPoints / 10_000 });
      }
      if (path.startsWith("/admin/")) {
        if (request.headers.get("x-rinha-token") !== this.token) {
          return message(401, "Missing or wrong X-Rinha-Token header");
        }
        return await this.#admin(method, path, url, request);
      }
      return message(404, `No route for ${method} ${path}`);
    } catch (error) {
      return message(500, `Processor ${this.name} failed: ${String(error)}`);
    }
  }

  async #pay(request: Request): Promise<Response> {
    let body: Record<string, unknown>;
    try {
      body = await request.json();
    } catch {
      return message(400, "Cannot parse the body as JSON");
    }
    const cid = body?.correlationId;
    if (typeof cid !== "string" || !UUID_PATTERN.test(cid)) {
      return message(400, "Field correlationId must be a UUID");
    }
    const cents = centsFromJsonNumber(body.amount);
    if (cents === undefined) return message(400, "Field amount must be a number above zero");
    const requestedAtMs = typeof body.requestedAt === "string"
      ? parseTimestamp(body.requestedAt)
      : undefined;
    if (requestedAtMs === undefined) {
      return message(400, "Field requestedAt must be an ISO 8601 timestamp");
    }
    const max = this.#opts.maxConcurrent ?? 0;
    if (max > 0 && this.stats.inProgress >= max) {
      this.stats.overloaded++;
      return message(429, `Processor ${this.name} is overloaded; try again later`);
    }
    this.stats.paymentRequests++;
    this.stats.inProgress++;
    try {
      const delay = this.delayMs;
      if (delay > 0) await sleep(delay);
      if (this.failing) {
        this.stats.failed++;
        return message(500, `Processor ${this.name} is failing`);
      }
      const key = cid.toLowerCase();
      if (this.#payments.has(key)) {
        this.stats.duplicates++;
        return message(422, `Payment ${cid} was already processed`);
      }
      this.#payments.set(key, { correlationId: cid, cents, requestedAtMs });
      this.stats.accepted++;
      return message(200, "payment processed successfully");
    } finally {
      this.stats.inProgress--;
    }
  }

  #health(): Response {
    const now = performance.now();
    const window = this.#opts.healthWindowMs ?? 5000;
    if (now - this.#lastHealthAt < window) {
      this.stats.healthRateLimited++;
      return new Response("Too many health checks: at most one per window", {
        status: 429,
        headers: { "retry-after": String(Math.ceil(window / 1000)) },
      });
    }
    this.#lastHealthAt = now;
    this.stats.healthCalls++;
    return json(this.failing ? 503 : 200, {
      failing: this.failing,
      minResponseTime: this.delayMs,
    });
  }

  #lookup(id: string): Response {
    const p = this.#payments.get(decodeURIComponent(id).toLowerCase());
    if (p === undefined) return message(404, `Payment ${id} not found`);
    return json(
      200,
      `{"correlationId":${JSON.stringify(p.correlationId)},"amount":${formatCents(p.cents)},` +
        `"requestedAt":"${new Date(p.requestedAtMs).toISOString()}"}`,
    );
  }

  async #admin(method: string, path: string, url: URL, request: Request): Promise<Response> {
    if (path === "/admin/payments-summary" && method === "GET") {
      const range = parseInstantRange(url.searchParams);
      if (typeof range === "string") return message(400, range);
      let count = 0, cents = 0n;
      for (const p of this.#payments.values()) {
        if (p.requestedAtMs >= range.fromMs && p.requestedAtMs <= range.toMs) {
          count++;
          cents += BigInt(p.cents);
        }
      }
      const fee = BigInt(this.feeBasisPoints);
      return json(
        200,
        `{"totalRequests":${count},"totalAmount":${formatCents(cents)},` +
          `"totalFee":${formatScaled(cents * fee, 6)},` +
          `"feePerTransaction":${formatScaled(fee, 4)}}`,
      );
    }
    if (path === "/admin/stats" && method === "GET") return json(200, this.stats);
    if (path === "/admin/purge-payments" && method === "POST") {
      this.#payments.clear();
      return message(200, "All payments purged.");
    }
    if (path.startsWith("/admin/configurations/") && method === "PUT") {
      return this.#configure(path.slice(22), await request.json().catch(() => undefined));
    }
    return message(404, `No route for ${method} ${path}`);
  }

  #configure(what: string, body: Record<string, unknown> | undefined): Response {
    const value = body?.[what];
    if (what === "token") {
      if (typeof value !== "string" || value === "") {
        return message(400, 'Body must be {"token": "<text>"}');
      }
      this.token = value;
      return new Response(null, { status: 204 });
    }
    if (what === "delay") {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
        return message(400, 'Body must be {"delay": <whole ms, 0 or more>}');
      }
      const old = this.delayMs;
      this.delayMs = value;
      return json(200, { configuration: "delay", oldValue: old, newValue: value });
    }
    if (what === "failure") {
      if (typeof value !== "boolean") return message(400, 'Body must be {"failure": true|false}');
      const old = this.failing;
      this.failing = value;
      return json(200, { configuration: "failure", oldValue: old, newValue: value });
    }
    return message(404, `No configuration named ${what}`);
  }
}
