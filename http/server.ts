/**
 * The HTTP/1.1 server both fastpix servers (the gateway and the Rinha API) run on, on `Deno.listen`
 * / `Deno.listenTls`: keep-alive, `Content-Length` and chunked bodies, no pipelining concurrency
 * (requests on one connection are answered in order). What `Deno.serve` lacks and an ingress needs:
 *
 * - timeouts: request headers (from the connection's first byte, or its accept), the whole body,
 *   keep-alive idleness, and writing an answer, checked by one sweep a few times a second;
 * - a cap on open connections (past it: 503 {@link ErrorCode.CONNECTIONS_EXHAUSTED} and close) and
 *   on requests in flight (503 {@link ErrorCode.IN_FLIGHT_EXHAUSTED});
 * - bodies read as they come and cut at `maxBodyBytes` whatever the framing (413), so a handler
 *   only ever sees a complete body of at most that many bytes;
 * - accept errors (EMFILE: out of file descriptors) never end the process: it backs off, keeps
 *   serving the connections it has, and accepts again once descriptors are free.
 * @module
 */
import { ErrorCode, type ErrorCodeValue } from "@fastpix/pix";
import { IncomingRequest } from "./request.ts";
import {
  concat,
  EMPTY,
  errorJson,
  httpDate,
  type HttpReply,
  serializeReply,
  serializeResponse,
  STATUS_TEXT,
} from "./response.ts";

export type { HttpReply } from "./response.ts";
export { errorJson } from "./response.ts";
export { IncomingRequest } from "./request.ts";

/** Limits of one server process. */
export interface HttpLimits {
  /** Longest a request's headers may take, ms (from its first byte; a new connection's accept). */
  headersTimeoutMs: number;
  /** Longest a request's body may take to arrive, and an answer to be written, ms. */
  bodyTimeoutMs: number;
  /** Longest a keep-alive connection may wait for its next request, ms. */
  idleTimeoutMs: number;
  /** Most open connections; past it new ones get 503 and are closed. */
  maxConnections: number;
  /** Most requests being read or handled at once; past it 503. */
  maxInFlight: number;
  /** Largest request body, bytes (413 past it, declared or streamed). */
  maxBodyBytes: number;
  /** Largest request line plus headers, bytes (431 past it). */
  maxHeaderBytes: number;
}

/** Defaults of the limits (`maxConnections` comes from the file descriptor limit). */
export const HTTP_DEFAULTS = {
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  maxInFlight: 1024,
  maxHeaderBytes: 16 * 1024,
  /** Highest default connection cap, whatever the descriptor limit. */
  maxConnectionsCeiling: 10_000,
} as const;

/** The soft limit of open files of this process (Linux `/proc/self/limits`), if it can be read. */
export function openFileLimit(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return soft !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default connection cap: the descriptor limit less a reserve (an eighth, at least 64) for
 * Redis connections, files and the runtime, so accepting never runs the process out of descriptors;
 * at most {@link HTTP_DEFAULTS.maxConnectionsCeiling}, at least 16.
 */
export function defaultMaxConnections(fdLimit = openFileLimit()): number {
  if (fdLimit === undefined) return HTTP_DEFAULTS.maxConnectionsCeiling;
  const reserve = Math.max(64, Math.floor(fdLimit / 8));
  return Math.max(16, Math.min(HTTP_DEFAULTS.maxConnectionsCeiling, fdLimit - reserve));
}

/** The limits with their defaults, `overrides` last. */
export function httpLimits(
  overrides: Partial<HttpLimits> & { maxBodyBytes: number },
): HttpLimits {
  return {
    headersTimeoutMs: HTTP_DEFAULTS.headersTimeoutMs,
    bodyTimeoutMs: HTTP_DEFAULTS.bodyTimeoutMs,
    idleTimeoutMs: HTTP_DEFAULTS.idleTimeoutMs,
    maxConnections: defaultMaxConnections(),
    maxInFlight: HTTP_DEFAULTS.maxInFlight,
    maxHeaderBytes: HTTP_DEFAULTS.maxHeaderBytes,
    ...overrides,
  };
}

/** Answers one request; `request.body` is complete (at most `maxBodyBytes`). */
export type HttpHandler = (
  request: Request,
  info: { remoteAddr: Deno.NetAddr },
) => Response | HttpReply | Promise<Response | HttpReply>;

/** A refusal of the serving layer (the handler never saw the request). */
export interface HttpRefusal {
  status: number;
  code: ErrorCodeValue;
  message: string;
  /** The request's path, when its request line was read. */
  path?: string;
}

/** Settings of {@link serveHttp}. */
export interface HttpServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Set SO_REUSEPORT (only for processes of one stack: see port_lock.ts). */
  reusePort?: boolean;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  limits: HttpLimits;
  /** The JSON body of a refusal (default `{"error": name, "code": n, "message": text}`). */
  refusalBody?: (code: ErrorCodeValue, message: string) => string;
  /** Told of each refusal (for metrics). */
  onRefused?: (refusal: HttpRefusal) => void;
  /** Told of trouble that does not stop the server (accept errors), at most once per 5 s each. */
  onWarning?: (message: string) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** Sweep period of the timeouts, ms: a timeout fires up to this late. */
const SWEEP_MS = 200;
/** Most connections being refused (answer written, then closed) at once; more are just closed. */
const MAX_REFUSING = 16;
/** How long a refused connection is drained before it is closed, ms (so the client reads the answer). */
const LINGER_MS = 1000;
/** Most bytes drained from a refused connection. */
const LINGER_BYTES = 1 << 20;

/** A request that cannot go on: answer with this refusal and close. */
class Refuse {
  constructor(readonly status: number, readonly code: ErrorCodeValue, readonly message: string) {}
}

/** The connection ended (closed by the peer, a timeout or shutdown): nothing more to answer. */
class Gone {}
const GONE = new Gone();

type Phase = "idle" | "head" | "body" | "handler" | "write";

interface Head {
  method: string;
  target: string;
  path: string;
  http10: boolean;
  headers: [string, string][];
  host: string | undefined;
  contentLength: number | undefined;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
}

/** One accepted connection: its read buffer, phase and deadline. */
class Connection {
  buf: Uint8Array;
  start = 0;
  end = 0;
  phase: Phase = "head";
  /** Date.now() past which the sweep closes it (0: none). */
  deadline = 0;
  closed = false;
  /** Set when the sweep closed it in the middle of a request (answer 408 if still possible). */
  timedOut = false;
  /** The last answer's write, while it is not known to be complete. */
  writing: Promise<void> | undefined;

  constructor(readonly conn: Deno.Conn, size: number) {
    this.buf = new Uint8Array(size);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Reads more bytes into the buffer (compacting or growing it up to `max`); false at EOF. */
  async fill(max: number): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const grown = new Uint8Array(Math.min(max, this.buf.length * 2));
        if (grown.length <= this.buf.length) return false; // no room: callers check limits first
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
    }
    const n = await this.conn.read(this.buf.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  get buffered(): number {
    return this.end - this.start;
  }
}

/** A running server; {@link serveHttp} makes one. */
export class HttpServer {
  readonly addr: Deno.NetAddr;
  /** Resolves once shut down: listener closed, every connection answered and closed. */
  readonly finished: Promise<void>;
  #listener: Deno.Listener;
  #options: HttpServerOptions;
  #limits: HttpLimits;
  #handler: HttpHandler;
  #scheme: string;
  #conns = new Set<Connection>();
  #refusing = 0;
  #inFlight = 0;
  #closing = false;
  #accepting: Promise<void>;
  #sweeper: ReturnType<typeof setInterval>;
  #settle!: () => void;
  #warnedAt = new Map<string, number>();

  constructor(options: HttpServerOptions, handler: HttpHandler) {
    this.#options = options;
    this.#limits = options.limits;
    this.#handler = handler;
    this.#scheme = options.tls ? "https" : "http";
    const listen = { hostname: options.hostname, port: options.port, reusePort: options.reusePort };
    this.#listener = options.tls
      ? Deno.listenTls({ ...listen, cert: options.tls.cert, key: options.tls.key })
      : Deno.listen(listen);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.finished = new Promise((resolve) => this.#settle = resolve);
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#accepting = this.#acceptLoop();
  }

  /** Open connections (being refused ones not counted). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Requests being read or handled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Stops accepting, closes idle connections, lets requests in flight finish (their connections
   * then close), and resolves when all is closed.
   */
  async shutdown(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch { /* closed */ }
      // Connections between requests (or yet to send one) close now; the others after answering.
      for (const c of this.#conns) {
        if (c.phase === "idle" || c.phase === "head" && c.buffered === 0) c.close();
      }
      this.#maybeFinished();
    }
    await this.finished;
  }

  #warn(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.#warnedAt.get(kind) ?? -Infinity) < 5000) return;
    this.#warnedAt.set(kind, now);
    this.#options.onWarning?.(message);
  }

  async #acceptLoop(): Promise<void> {
    let backoffMs = 10;
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoffMs = 10;
      } catch (error) {
        if (this.#closing) break;
        // EMFILE/ENFILE (no descriptors), ECONNABORTED...: keep serving what is open, retry soon.
        this.#warn(
          "accept",
          `cannot accept connections (${
            (error as Error).message
          }): serving the ${this.#conns.size} open ones, retrying`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 500);
        continue;
      }
      if (this.#closing) {
        try {
          conn.close();
        } catch { /* closed */ }
        break;
      }
      if (this.#conns.size >= this.#limits.maxConnections) {
        this.#refuseConnection(conn);
        continue;
      }
      const c = new Connection(conn, 4096);
      c.deadline = Date.now() + this.#limits.headersTimeoutMs;
      this.#conns.add(c);
      this.#serve(c).catch((error) => {
        this.#warn("connection", `a connection failed: ${(error as Error)?.message ?? error}`);
      }).finally(() => {
        c.close();
        this.#conns.delete(c);
        this.#maybeFinished();
      });
    }
  }

  #maybeFinished(): void {
    if (this.#closing && this.#conns.size === 0 && this.#refusing === 0) {
      clearInterval(this.#sweeper);
      this.#accepting.then(() => this.#settle());
    }
  }

  /** Past the connection cap: answer 503 and close, without reading the request. */
  #refuseConnection(conn: Deno.Conn): void {
    const message =
      `Too many open connections (${this.#limits.maxConnections}): retry shortly on another`;
    this.#options.onRefused?.({ status: 503, code: ErrorCode.CONNECTIONS_EXHAUSTED, message });
    if (this.#refusing >= MAX_REFUSING) {
      try {
        conn.close();
      } catch { /* closed */ }
      return;
    }
    this.#refusing++;
    const bytes = this.#refusalBytes(503, ErrorCode.CONNECTIONS_EXHAUSTED, message, false);
    lingeringClose(conn, bytes).finally(() => {
      this.#refusing--;
      this.#maybeFinished();
    });
  }

  #refusalBytes(status: number, code: ErrorCodeValue, message: string, head: boolean): Uint8Array {
    const body = (this.#options.refusalBody ?? errorJson)(code, message);
    const bytes = encoder.encode(body);
    const start = encoder.encode(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
        `content-type: application/json\r\ncontent-length: ${bytes.length}\r\n` +
        `date: ${httpDate()}\r\nconnection: close\r\n\r\n`,
    );
    return head ? start : concat(start, bytes);
  }

  #sweep(): void {
    const now = Date.now();
    for (const c of this.#conns) {
      if (c.deadline === 0 || now < c.deadline) continue;
      c.deadline = 0;
      if (c.phase === "head" && c.buffered > 0 || c.phase === "body") {
        // In the middle of a request: say why before closing (best effort, bounded).
        c.timedOut = true;
        const what = c.phase === "body" ? "body" : "headers";
        const limit = c.phase === "body"
          ? this.#limits.bodyTimeoutMs
          : this.#limits.headersTimeoutMs;
        const message = `The request ${what} did not arrive within ${limit} ms`;
        this.#options.onRefused?.({ status: 408, code: ErrorCode.REQUEST_TIMEOUT, message });
        const bytes = this.#refusalBytes(408, ErrorCode.REQUEST_TIMEOUT, message, false);
        const conn = c.conn;
        c.closed = true; // the read loop sees the connection gone; lingeringClose closes it
        lingeringClose(conn, bytes, 0);
      } else c.close();
    }
  }

  /** Serves one connection's requests in order until it closes (its last answer written). */
  async #serve(c: Connection): Promise<void> {
    try {
      await this.#serveRequests(c);
    } finally {
      await c.writing;
    }
  }

  async #serveRequests(c: Connection): Promise<void> {
    const conn = c.conn;
    if ("setNoDelay" in conn) {
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch { /* not TCP */ }
    }
    const remoteAddr = conn.remoteAddr as Deno.NetAddr;
    for (;;) {
      let head: Head | undefined;
      let inFlight = false;
      let refusal: Refuse | undefined;
      try {
        head = await this.#readHead(c);
        if (head === undefined) return; // closed between requests
        if (this.#inFlight >= this.#limits.maxInFlight) {
          throw new Refuse(
            503,
            ErrorCode.IN_FLIGHT_EXHAUSTED,
            `Too many requests in flight (${this.#limits.maxInFlight}): retry shortly`,
          );
        }
        this.#inFlight++;
        inFlight = true;
        const body = await this.#readBody(c, head);
        c.phase = "handler";
        c.deadline = 0;
        const request = this.#request(head, body);
        let response: Response | HttpReply;
        try {
          response = await this.#handler(request, { remoteAddr });
        } catch (error) {
          response = {
            status: 500,
            body: JSON.stringify({
              error: "internal",
              message: (error as Error)?.message ?? "failed",
            }),
          };
        }
        let bytes: Uint8Array;
        let keepAlive = head.keepAlive && !this.#closing;
        if (response instanceof Response) {
          keepAlive &&= response.headers.get("connection")?.toLowerCase() !== "close";
          bytes = await serializeResponse(response, head, keepAlive);
        } else bytes = serializeReply(response, head, keepAlive);
        if (c.closed) return;
        c.phase = "write";
        c.deadline = Date.now() + this.#limits.bodyTimeoutMs;
        if (c.writing !== undefined) await c.writing; // the answer before (pipelined requests)
        if (!keepAlive) {
          await writeAll(conn, bytes);
          return;
        }
        // Not awaited: the next request is read meanwhile (waiting for the write's completion
        // would delay it by an event loop turn); the one after that waits for it, and so does
        // closing.
        const writing: Promise<void> = writeAll(conn, bytes).then(
          () => {
            if (c.writing === writing) c.writing = undefined;
          },
          () => c.close(),
        );
        c.writing = writing;
      } catch (error) {
        // Anything but a refusal (Gone, a read or write reset by the peer or cut by a timeout):
        // there is no one left to answer.
        if (!(error instanceof Refuse)) return;
        refusal = error;
      } finally {
        if (inFlight) this.#inFlight--;
      }
      if (refusal !== undefined) {
        if (c.closed) return;
        this.#options.onRefused?.({
          status: refusal.status,
          code: refusal.code,
          message: refusal.message,
          path: head?.path,
        });
        const bytes = this.#refusalBytes(
          refusal.status,
          refusal.code,
          refusal.message,
          head?.method === "HEAD",
        );
        c.closed = true; // handed to lingeringClose
        await lingeringClose(conn, bytes);
        return;
      }
      if (this.#closing) return;
      c.phase = "idle";
      c.deadline = Date.now() + this.#limits.idleTimeoutMs;
    }
  }

  /** Reads a request line and headers; `undefined` when the connection closes before a request. */
  async #readHead(c: Connection): Promise<Head | undefined> {
    const max = this.#limits.maxHeaderBytes;
    let scanned = 0;
    for (;;) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      while (c.buffered >= 2 && c.buf[c.start] === 13 && c.buf[c.start + 1] === 10) c.start += 2;
      if (c.buffered > 0 && c.phase === "idle") {
        c.phase = "head";
        c.deadline = Date.now() + this.#limits.headersTimeoutMs;
      }
      const end = indexOfCrlfCrlf(c.buf, c.start + Math.max(0, scanned - 3), c.end);
      if (end >= 0 && end - c.start <= max) {
        c.phase = "head";
        const text = decoder.decode(c.buf.subarray(c.start, end));
        c.start = end + 4;
        return this.#parseHead(text);
      }
      scanned = c.buffered;
      if (scanned >= max || end >= 0) {
        throw new Refuse(
          431,
          ErrorCode.REQUEST_HEADERS_TOO_LARGE,
          `Request line and headers are over ${max} bytes`,
        );
      }
      if (c.closed) throw GONE;
      const more = await c.fill(max + 4).catch(() => false);
      if (c.closed && c.timedOut) throw GONE;
      if (!more) {
        if (c.buffered === 0 || c.phase === "idle") return undefined;
        throw GONE; // the peer went away mid-headers
      }
    }
  }

  #parseHead(text: string): Head {
    const lines = text.split("\r\n");
    const requestLine = lines[0];
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
    if (m === null) {
      throw new Refuse(
        400,
        ErrorCode.REQUEST_MALFORMED,
        `Cannot read the request line ${JSON.stringify(requestLine.slice(0, 60))}`,
      );
    }
    const [, method, target, minor] = m;
    const headers: [string, string][] = [];
    let host: string | undefined;
    let contentLength: number | undefined;
    let transferEncoding: string | undefined;
    let connection = "";
    let expect: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      if (!TOKEN.test(name)) {
        throw new Refuse(
          400,
          ErrorCode.REQUEST_MALFORMED,
          `Cannot read the header line ${JSON.stringify(line.slice(0, 60))}`,
        );
      }
      const value = line.slice(colon + 1).trim();
      const lower = name.toLowerCase();
      headers.push([lower, value]);
      switch (lower) {
        case "host":
          host = value;
          break;
        case "content-length": {
          if (
            !/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== +value)
          ) {
            throw new Refuse(400, ErrorCode.REQUEST_MALFORMED, "Invalid Content-Length");
          }
          contentLength = Number(value);
          break;
        }
        case "transfer-encoding":
          transferEncoding = transferEncoding === undefined
            ? value
            : `${transferEncoding}, ${value}`;
          break;
        case "connection":
          connection += "," + value.toLowerCase();
          break;
        case "expect":
          expect = value.toLowerCase();
          break;
      }
    }
    const http10 = minor === "0";
    let chunked = false;
    if (transferEncoding !== undefined) {
      if (transferEncoding.toLowerCase() !== "chunked" || http10) {
        throw new Refuse(
          400,
          ErrorCode.REQUEST_MALFORMED,
          `Cannot read Transfer-Encoding ${
            JSON.stringify(transferEncoding.slice(0, 40))
          }: only chunked`,
        );
      }
      if (contentLength !== undefined) {
        throw new Refuse(
          400,
          ErrorCode.REQUEST_MALFORMED,
          "Both Content-Length and Transfer-Encoding: send one",
        );
      }
      chunked = true;
    }
    if (!target.startsWith("/") && !/^https?:\/\//i.test(target)) {
      throw new Refuse(
        400,
        ErrorCode.REQUEST_MALFORMED,
        `Cannot read the request target ${JSON.stringify(target.slice(0, 60))}`,
      );
    }
    let path = target.startsWith("/") ? target : target.replace(/^https?:\/\/[^/]*/i, "") || "/";
    const query = path.indexOf("?");
    if (query >= 0) path = path.slice(0, query);
    const tokens = connection.split(",").map((t) => t.trim());
    const keepAlive = http10 ? tokens.includes("keep-alive") : !tokens.includes("close");
    return {
      method,
      target,
      path,
      http10,
      headers,
      host,
      contentLength,
      chunked,
      keepAlive,
      expectContinue: expect === "100-continue" && !http10,
    };
  }

  /** Reads the whole body (at most `maxBodyBytes`) within the body timeout. */
  async #readBody(c: Connection, head: Head): Promise<Uint8Array<ArrayBuffer>> {
    const max = this.#limits.maxBodyBytes;
    const tooLarge = () =>
      new Refuse(413, ErrorCode.REQUEST_BODY_TOO_LARGE, `Request body is larger than ${max} bytes`);
    if (!head.chunked && (head.contentLength ?? 0) === 0) return EMPTY;
    if (head.contentLength !== undefined && head.contentLength > max) throw tooLarge();
    c.phase = "body";
    c.deadline = Date.now() + this.#limits.bodyTimeoutMs;
    if (head.expectContinue && c.buffered === 0) await writeAll(c.conn, CONTINUE);
    if (head.contentLength !== undefined) {
      const body = new Uint8Array(head.contentLength);
      await this.#readExact(c, body);
      return body;
    }
    // Chunked: size line, data, CRLF ... a zero size, trailers, an empty line.
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let size = 0;
    for (;;) {
      const line = await this.#readLine(c);
      const m = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/.exec(line);
      if (m === null) {
        throw new Refuse(400, ErrorCode.REQUEST_MALFORMED, "Cannot read a chunk size line");
      }
      const n = parseInt(m[1], 16);
      if (n === 0) break;
      size += n;
      if (size > max) throw tooLarge();
      const part = new Uint8Array(n);
      await this.#readExact(c, part);
      parts.push(part);
      if ((await this.#readLine(c)) !== "") {
        throw new Refuse(400, ErrorCode.REQUEST_MALFORMED, "A chunk does not end with CRLF");
      }
    }
    while ((await this.#readLine(c)) !== ""); // trailers, ignored
    return parts.length === 1 ? parts[0] : concat(...parts);
  }

  /** One CRLF-ended line of the chunked framing (at most 4 KiB). */
  async #readLine(c: Connection): Promise<string> {
    for (;;) {
      for (let i = c.start; i + 1 < c.end; i++) {
        if (c.buf[i] === 13 && c.buf[i + 1] === 10) {
          const line = decoder.decode(c.buf.subarray(c.start, i));
          c.start = i + 2;
          return line;
        }
      }
      if (c.buffered > 4096) {
        throw new Refuse(400, ErrorCode.REQUEST_MALFORMED, "A chunk line is over 4096 bytes");
      }
      if (!await this.#more(c, 8192)) throw GONE;
    }
  }

  /** Fills `target` from the buffer, then straight from the connection. */
  async #readExact(c: Connection, target: Uint8Array): Promise<void> {
    const take = Math.min(c.buffered, target.length);
    target.set(c.buf.subarray(c.start, c.start + take));
    c.start += take;
    let offset = take;
    while (offset < target.length) {
      if (c.closed) throw GONE;
      const n = await c.conn.read(target.subarray(offset)).catch(() => null);
      if (n === null) throw GONE;
      offset += n;
    }
  }

  async #more(c: Connection, max: number): Promise<boolean> {
    if (c.closed) return false;
    return await c.fill(max).catch(() => false) && !c.closed;
  }

  #request(head: Head, body: Uint8Array<ArrayBuffer>): Request {
    const host = head.host !== undefined && HOST.test(head.host) ? head.host : hostOf(this.addr);
    const url = head.target.startsWith("/")
      ? `${this.#scheme}://${host}${head.target}`
      : head.target;
    return new IncomingRequest(head.method, url, head.headers, body) as unknown as Request;
  }
}

/** `host:port` of an address, IPv6 in brackets. */
function hostOf(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

function indexOfCrlfCrlf(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i + 3] !== 10) continue; // most bytes are not "\n": one test each
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13) return i;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/**
 * Writes `bytes`, half-closes, and reads (discarding) until the peer closes, `LINGER_MS` pass or
 * `LINGER_BYTES` arrive, then closes: closing with unread request bytes would reset the connection
 * and the client could lose the answer.
 */
async function lingeringClose(conn: Deno.Conn, bytes: Uint8Array, lingerMs = LINGER_MS) {
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, Math.max(lingerMs, 200));
  try {
    await writeAll(conn, bytes);
    if (lingerMs > 0) {
      await conn.closeWrite();
      const sink = new Uint8Array(16 * 1024);
      let drained = 0;
      for (let n = await conn.read(sink); n !== null; n = await conn.read(sink)) {
        drained += n;
        if (drained > LINGER_BYTES) break;
      }
    }
  } catch {
    /* reset or closed by the timer */
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Listens and serves `handler` with the limits of `options`. Throws `AddrInUse` like Deno.listen. */
export function serveHttp(options: HttpServerOptions, handler: HttpHandler): HttpServer {
  return new HttpServer(options, handler);
}
