/**
 * A raw HTTP/1.1 client for the serving-layer tests: bytes written exactly as given (slowly, split,
 * malformed, pipelined), answers read one by one off the same connection, and a process's RSS.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Longest wait for a byte from the server before a test fails instead of hanging, ms. */
const WAIT_MS = 15_000;

/** One answer as read off the wire. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A TCP connection that reads answers one at a time. */
export class RawConnection {
  #buf = new Uint8Array(0);
  #eof = false;
  private constructor(readonly conn: Deno.Conn) {}

  static async open(port: number): Promise<RawConnection> {
    return new RawConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async write(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Reads more; false at EOF. Throws after `WAIT_MS` without a byte (a test fails, not hangs). */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<"silent">((resolve) => {
      timer = setTimeout(() => resolve("silent"), WAIT_MS);
    });
    try {
      const read = await Promise.race([this.conn.read(chunk), silent]);
      if (read === "silent") {
        this.close();
        throw new Error(`no byte from the server within ${WAIT_MS} ms`);
      }
      n = read;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("no byte")) throw error;
      n = null; // reset by the peer
    } finally {
      clearTimeout(timer);
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /**
   * The next answer, or `undefined` when the server closed the connection first. `head`: the
   * answer to a HEAD request (a Content-Length but no body).
   */
  async response(options: { head?: boolean } = {}): Promise<RawResponse | undefined> {
    for (;;) {
      const text = decoder.decode(this.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const lines = text.slice(0, end).split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const bodyless = options.head || status < 200 || status === 204 || status === 304;
        const length = bodyless ? 0 : Number(headers["content-length"] ?? 0);
        const headBytes = encoder.encode(text.slice(0, end + 4)).length;
        while (this.#buf.length < headBytes + length) {
          if (!await this.#fill()) break;
        }
        const body = decoder.decode(this.#buf.subarray(headBytes, headBytes + length));
        this.#buf = this.#buf.slice(headBytes + length);
        return { status, headers, body };
      }
      if (!await this.#fill()) return undefined;
    }
  }

  /** Resolves once the server closed the connection (reading and dropping what comes). */
  async closed(): Promise<void> {
    while (await this.#fill()) this.#buf = new Uint8Array(0);
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

/** A POST request with a JSON body and Content-Length. */
export function postText(path: string, body: string, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${encoder.encode(body).length}\r\n${extra}\r\n${body}`;
}

/** A process's resident set (`VmRSS`), in KiB. */
export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
}

/** How many descriptors a process has open. */
export function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/**
 * A slowloris client: writes `request` one byte every `everyMs` until the server answers or cuts
 * the connection; resolves to the answer (if any), when it came, and how many bytes went out.
 */
export async function drip(
  c: RawConnection,
  request: string,
  everyMs: number,
): Promise<{ answer: RawResponse | undefined; ms: number; sent: number }> {
  const started = performance.now();
  let sent = 0;
  const dripping = (async () => {
    for (; sent < request.length; sent++) {
      try {
        await c.write(request[sent]);
      } catch {
        return; // cut
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  const answer = await c.response();
  const ms = performance.now() - started;
  await c.closed();
  c.close();
  await dripping;
  return { answer, ms, sent };
}
