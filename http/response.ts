/**
 * Answers as bytes on the wire: a `Response` or a plain {@link HttpReply} becomes the status line,
 * headers (`date`, `content-length`, `connection`) and body in one buffer; and the JSON shape of
 * the serving layer's own refusals.
 * @module
 */
import { ErrorCode, type ErrorCodeValue } from "@fastpix/pix";

const encoder = new TextEncoder();
/** An empty body. */
export const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/**
 * A plain answer: cheaper than a `Response` on a hot path (no body stream to read back, no
 * `Headers` to iterate). The body is text (UTF-8).
 */
export interface HttpReply {
  status: number;
  body: string;
  /** Default `application/json`. */
  contentType?: string;
  headers?: Record<string, string>;
}

/** What an answer depends on in its request. */
export interface ReplyTo {
  method: string;
  /** An HTTP/1.0 request (keep-alive must then be said). */
  http10: boolean;
}

const ERROR_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name.toLowerCase()]),
);

/** `{"error": "<code name>", "code": n, "message": "..."}`, the gateway's error shape. */
export function errorJson(code: ErrorCodeValue, message: string): string {
  return JSON.stringify({ error: ERROR_NAMES.get(code) ?? "error", code, message });
}

/** Reason phrases of the statuses fastpix answers with. */
export const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  301: "Moved Permanently",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

let dateText = "";
let dateSecond = 0;

/** The `date` header's value, computed once a second. */
export function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** `parts` end to end in one new buffer. */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const NO_BODY_STATUS = new Set([204, 304]);
const SKIPPED = new Set([
  "content-length",
  "connection",
  "transfer-encoding",
  "keep-alive",
  "date",
]);

const TEXTUAL = /^(?:text\/|application\/(?:[\w.+-]*\+)?json\b)/i;

/** Status line, headers and body of `response` as one buffer. */
export async function serializeResponse(
  response: Response,
  to: ReplyTo,
  keepAlive: boolean,
): Promise<Uint8Array> {
  const status = response.status;
  const noBody = NO_BODY_STATUS.has(status) || (status >= 100 && status < 200);
  let text = `HTTP/1.1 ${status} ${response.statusText || STATUS_TEXT[status] || ""}\r\n`;
  let textual = false;
  for (const [name, value] of response.headers) {
    if (SKIPPED.has(name)) continue;
    text += `${name}: ${value}\r\n`;
    if (name === "content-type") textual = TEXTUAL.test(value);
  }
  text += `date: ${httpDate()}\r\n`;
  if (!keepAlive) text += "connection: close\r\n";
  else if (to.http10) text += "connection: keep-alive\r\n";
  if (noBody) return encoder.encode(text + "\r\n");
  // Not `response.body`: that getter turns a string body into a stream, read back slowly.
  if (textual) return textReply(text, await response.text(), to);
  const body = await response.bytes();
  text += `content-length: ${body.length}\r\n\r\n`;
  return to.method === "HEAD" ? encoder.encode(text) : concat(encoder.encode(text), body);
}

const NON_ASCII = /[^\p{ASCII}]/u;

/** `start` (status line and headers so far), Content-Length and a text body, as one buffer. */
function textReply(start: string, body: string, to: ReplyTo): Uint8Array {
  if (!NON_ASCII.test(body)) {
    // One string, one encoding.
    const sent = to.method === "HEAD" ? "" : body;
    return encoder.encode(`${start}content-length: ${body.length}\r\n\r\n${sent}`);
  }
  const bytes = encoder.encode(body);
  const first = encoder.encode(`${start}content-length: ${bytes.length}\r\n\r\n`);
  return to.method === "HEAD" ? first : concat(first, bytes);
}

/** Status line, headers and body of a plain reply as one buffer. */
export function serializeReply(reply: HttpReply, to: ReplyTo, keepAlive: boolean): Uint8Array {
  let text = `HTTP/1.1 ${reply.status} ${STATUS_TEXT[reply.status] ?? ""}\r\n` +
    `content-type: ${reply.contentType ?? "application/json"}\r\ndate: ${httpDate()}\r\n`;
  if (reply.headers !== undefined) {
    for (const name in reply.headers) text += `${name}: ${reply.headers[name]}\r\n`;
  }
  if (!keepAlive) text += "connection: close\r\n";
  else if (to.http10) text += "connection: keep-alive\r\n";
  return textReply(text, reply.body, to);
}
