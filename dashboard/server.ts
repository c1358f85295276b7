/**
 * The dashboard's HTTP server (`Deno.serve`): the page and its bundle (built by
 * `deno task dashboard:build`, served from this process: no CDN, works offline), the live feed
 * (Server-Sent Events, one snapshot per interval), the dead-letter list and its replay and purge,
 * and the payment lookup. Every answer carries a strict Content-Security-Policy; data is only ever
 * put into the page as text.
 * @module
 */
import { createRedis, errorMessage, type Logger, redactUrl } from "@fastpix/infra";
import {
  connectPostgres,
  ledgerStatsReader,
  type LetterOutcome,
  type Sql,
} from "@fastpix/consumer";
import { Auth } from "./auth.ts";
import { type SampleEvent, Sampler } from "./sampler.ts";
import { actOnDeadLetters, deadLetterList, MAX_LETTERS_PER_ACTION } from "./dead_letters.ts";
import { ledgerRowReader, lookupPayment, MAX_TRANSACTION_ID_LENGTH } from "./lookup.ts";

/** Defaults of the options a user can change. */
export const DASHBOARD_DEFAULTS = {
  port: 8090,
  hostname: "127.0.0.1",
  intervalMs: 1000,
  historyPoints: 900,
  lookupScan: 2000,
  deadLetterCount: 100,
  deadLetterScan: 5000,
  scanCount: 5000,
};

/** Options of {@link serveDashboard}. */
export interface DashboardOptions {
  redisUrl: string;
  stream: string;
  group: string;
  responsePrefix: string;
  /** Idle time past which a consumer holding entries is stalled. */
  idleThresholdMs: number;
  intervalMs: number;
  historyPoints: number;
  /** `COUNT` of each `SCAN` step discovering response streams and lists. */
  scanCount: number;
  /** Entries a lookup reads at most per window. */
  lookupScan: number;
  /** Dead letters listed at most, and looked at at most when filtering by code. */
  deadLetterCount: number;
  deadLetterScan: number;
  /** The ledger (PostgreSQL); unset or empty: none. */
  postgresDsn?: string;
  /** Keys that let a user in; empty: no key asked (loopback only: the command refuses others). */
  apiKeys: readonly string[];
  hostname: string;
  port: number;
  logger: Logger;
}

/** A running dashboard. */
export interface RunningDashboard {
  /** `http://host:port`. */
  url: string;
  server: Deno.HttpServer<Deno.NetAddr>;
  sampler: Sampler;
  /** Stops serving and refreshing, closes the connections. */
  stop(): Promise<void>;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  // Not no-referrer: with it, Chromium sends `Origin: null` on form posts, which sameOrigin refuses.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

/** The page's files, read once at start. */
interface Assets {
  index: Uint8Array<ArrayBuffer>;
  login: Uint8Array<ArrayBuffer>;
  js: Uint8Array<ArrayBuffer>;
  css: Uint8Array<ArrayBuffer>;
}

async function readAssets(): Promise<Assets> {
  const read = (path: string) => Deno.readFile(new URL(path, import.meta.url));
  try {
    const [index, login, js, css] = await Promise.all([
      read("./web/index.html"),
      read("./web/login.html"),
      read("./web/dist/app.js"),
      read("./web/dist/app.css"),
    ]);
    return { index, login, js, css };
  } catch (error) {
    throw new Error(
      `The dashboard's page is missing (${errorMessage(error)}): run deno task dashboard:build`,
    );
  }
}

function respond(
  body: BodyInit | null,
  status: number,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "cache-control": "no-store", ...headers },
  });
}

const json = (value: unknown, status = 200) =>
  respond(JSON.stringify(value), status, { "content-type": "application/json; charset=utf-8" });

const problem = (status: number, error: string) => json({ error }, status);

const redirect = (location: string, headers: Record<string, string> = {}) =>
  respond(null, 303, { location, ...headers });

const truthy = (value: string | null) => value === "1" || value === "true";

/** Connects to Redis (and the ledger), starts refreshing and serves the dashboard. */
export async function serveDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const assets = await readAssets();
  const log = options.logger;
  const auth = new Auth(options.apiKeys);
  const redis = createRedis(options.redisUrl, {
    name: "fastpix-dashboard",
    failFast: true,
    logger: SILENT,
  });
  const dsn = options.postgresDsn || undefined;
  const stats = dsn ? ledgerStatsReader(dsn) : undefined;
  const sql: Sql | undefined = dsn ? connectPostgres(dsn, { max: 1 }) : undefined;
  const sampler = new Sampler(redis, {
    redisUrl: options.redisUrl,
    stream: options.stream,
    group: options.group,
    responsePrefix: options.responsePrefix,
    idleThresholdMs: options.idleThresholdMs,
    intervalMs: options.intervalMs,
    historyPoints: options.historyPoints,
    scanCount: options.scanCount,
    ledger: stats?.read,
  });
  await sampler.start();

  const feeds = new Set<() => void>();
  // Each refresh is serialized once, however many pages listen.
  const encodings = new WeakMap<SampleEvent, Uint8Array>();
  const encoded = (e: SampleEvent): Uint8Array => {
    let bytes = encodings.get(e);
    if (!bytes) {
      bytes = new TextEncoder().encode(`event: sample\ndata: ${JSON.stringify(e)}\n\n`);
      encodings.set(e, bytes);
    }
    return bytes;
  };
  let lookups = 0;

  /** The live feed: `init` (history and the last refresh), then `sample` per refresh. */
  const events = (): Response => {
    const encoder = new TextEncoder();
    let close = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (event: string, data: unknown) => {
          try {
            controller.enqueue(
              encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
            );
          } catch {
            close();
          }
        };
        send("init", {
          history: sampler.history.points(),
          view: sampler.latest?.view,
          intervalMs: options.intervalMs,
          historyPoints: options.historyPoints,
          auth: auth.required,
        });
        const unsubscribe = sampler.subscribe((e: SampleEvent) => {
          try {
            controller.enqueue(encoded(e));
          } catch {
            close();
          }
        });
        const ping = setInterval(() => {
          try {
            controller.enqueue(encoder.encode(": ping\n\n"));
          } catch {
            close();
          }
        }, 15_000);
        close = () => {
          unsubscribe();
          clearInterval(ping);
          feeds.delete(close);
          try {
            controller.close();
          } catch { /* already closed */ }
        };
        feeds.add(close);
      },
      cancel() {
        close();
      },
    });
    return respond(body, 200, {
      "content-type": "text/event-stream; charset=utf-8",
      "x-accel-buffering": "no",
    });
  };

  const deadLetters = async (url: URL): Promise<Response> => {
    const code = url.searchParams.get("code");
    if (code !== null && code !== "" && !/^\d{1,6}$/.test(code)) {
      return problem(400, "code must be a whole number");
    }
    const result = await deadLetterList(redis, options.stream, {
      count: options.deadLetterCount,
      code: code ? Number(code) : undefined,
      scan: options.deadLetterScan,
      reveal: truthy(url.searchParams.get("reveal")),
    });
    return json(result);
  };

  const act = async (request: Request, action: "replay" | "purge"): Promise<Response> => {
    if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
      return problem(415, 'send JSON: {"ids": ["<dead letter id>", ...]}');
    }
    let ids: unknown;
    try {
      ids = (await request.json())?.ids;
    } catch {
      return problem(400, "the body is not JSON");
    }
    if (
      !Array.isArray(ids) || ids.length === 0 || ids.length > MAX_LETTERS_PER_ACTION ||
      !ids.every((id) => typeof id === "string" && /^\d{1,20}-\d{1,20}$/.test(id))
    ) {
      return problem(400, `ids must list 1 to ${MAX_LETTERS_PER_ACTION} dead letter ids`);
    }
    const result = await actOnDeadLetters(redis, options.stream, ids, action);
    const summary = Object.entries(result.counts).map(([k, n]) => `${n} ${k}`).join(", ");
    log.info(`${action} of ${ids.length} dead letter(s) from the dashboard: ${summary}`);
    sampler.refresh().catch(() => {});
    return json(result satisfies { outcomes: LetterOutcome[] });
  };

  const lookup = async (url: URL): Promise<Response> => {
    const tx = (url.searchParams.get("tx") ?? "").trim();
    if (tx === "" || tx.length > MAX_TRANSACTION_ID_LENGTH || !/^[\x21-\x7e]+$/.test(tx)) {
      return problem(
        400,
        `tx must be a transaction id (1-${MAX_TRANSACTION_ID_LENGTH} characters)`,
      );
    }
    // A lookup reads a bounded number of entries; a few at a time bound the total too.
    if (lookups >= 2) return problem(429, "two lookups are running: try again in a moment");
    lookups++;
    try {
      return json(
        await lookupPayment(redis, tx, {
          stream: options.stream,
          group: options.group,
          responsePrefix: options.responsePrefix,
          scanLimit: options.lookupScan,
          reveal: truthy(url.searchParams.get("reveal")),
          ledger: sql ? ledgerRowReader(sql) : undefined,
        }),
      );
    } finally {
      lookups--;
    }
  };

  const login = async (request: Request): Promise<Response> => {
    const form = await request.formData().catch(() => undefined);
    const key = form?.get("key");
    if (typeof key === "string" && auth.validKey(key)) {
      return redirect("/", { "set-cookie": auth.startSession() });
    }
    // A failed attempt waits a little: guessing a key over the network stays slow.
    await new Promise((resolve) => setTimeout(resolve, 300));
    return redirect("/login?failed=1");
  };

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const refusal = auth.refusal(request);
    if (refusal) return problem(403, refusal);
    const path = url.pathname;
    const method = request.method;
    if (method !== "GET" && method !== "HEAD" && method !== "POST") {
      return problem(405, "method not allowed");
    }
    if (method === "POST" && !auth.sameOrigin(request)) {
      return problem(403, "changes are accepted from the dashboard's own page only");
    }
    if (path === "/assets/app.js") {
      return respond(assets.js, 200, { "content-type": "text/javascript; charset=utf-8" });
    }
    if (path === "/assets/app.css") {
      return respond(assets.css, 200, { "content-type": "text/css; charset=utf-8" });
    }
    if (path === "/login") {
      if (!auth.required) return redirect("/");
      if (method === "POST") return await login(request);
      return respond(assets.login, 200, { "content-type": "text/html; charset=utf-8" });
    }
    if (path === "/logout" && method === "POST") {
      return redirect(auth.required ? "/login" : "/", { "set-cookie": auth.endSession(request) });
    }
    if (!auth.allows(request)) {
      // `?key=` once: a session cookie, and the key leaves the address bar.
      const key = url.searchParams.get("key");
      if (path === "/" && key !== null && auth.validKey(key)) {
        return redirect("/", { "set-cookie": auth.startSession() });
      }
      return path.startsWith("/api/") ? problem(401, "an API key is required") : redirect("/login");
    }
    if (path === "/" && method !== "POST") {
      if (url.searchParams.has("key")) return redirect("/");
      return respond(assets.index, 200, { "content-type": "text/html; charset=utf-8" });
    }
    try {
      if (method === "GET" && path === "/api/events") return events();
      if (method === "GET" && path === "/api/snapshot") return json(sampler.latest);
      if (method === "GET" && path === "/api/history") return json(sampler.history.points());
      if (method === "GET" && path === "/api/dead-letters") return await deadLetters(url);
      if (method === "POST" && path === "/api/dead-letters/replay") {
        return await act(request, "replay");
      }
      if (method === "POST" && path === "/api/dead-letters/purge") {
        return await act(request, "purge");
      }
      if (method === "GET" && path === "/api/lookup") return await lookup(url);
    } catch (error) {
      log.warn(`${method} ${path}: ${errorMessage(error)}`);
      return problem(503, `Redis did not answer: ${errorMessage(error)}`);
    }
    return problem(404, "not found");
  };

  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname,
    onListen: () => {},
  }, handle);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  log.info(
    `listening on ${url} (Redis ${redactUrl(options.redisUrl)}, ${
      auth.required ? "API key required" : "no API key: loopback only"
    })`,
  );
  return {
    url,
    server,
    sampler,
    async stop() {
      for (const close of [...feeds]) close();
      await server.shutdown();
      await sampler.stop();
      redis.disconnect();
      await stats?.close();
      await sql?.end({ timeout: 1 });
    },
  };
}
