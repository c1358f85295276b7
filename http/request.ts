/**
 * The request a handler gets from the serving layer: lazily built, cheaper than a full `Request`.
 * @module
 */
import { EMPTY } from "./response.ts";

const decoder = new TextDecoder();

/**
 * The headers of an {@link IncomingRequest}: what `Headers` offers, over the pairs the parser read
 * (names already checked and lower-cased), without `Headers`' per-name validation on every request.
 */
export class RequestHeaders {
  #pairs: [string, string][];
  constructor(pairs: [string, string][]) {
    this.#pairs = pairs;
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    let found: string | null = null;
    for (const [n, v] of this.#pairs) {
      if (n === key) found = found === null ? v : `${found}, ${v}`;
    }
    return found;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  append(name: string, value: string): void {
    this.#pairs.push([name.toLowerCase(), String(value)]);
  }

  delete(name: string): void {
    const key = name.toLowerCase();
    this.#pairs = this.#pairs.filter(([n]) => n !== key);
  }

  getSetCookie(): string[] {
    return this.#pairs.filter(([n]) => n === "set-cookie").map(([, v]) => v);
  }

  /** Sorted names, duplicates combined, as `Headers` iterates. */
  *entries(): IterableIterator<[string, string]> {
    const names = [...new Set(this.#pairs.map(([n]) => n))].sort();
    for (const name of names) yield [name, this.get(name)!];
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(callback: (value: string, name: string, parent: unknown) => void): void {
    for (const [name, value] of this.entries()) callback(value, name, this);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * The request a handler gets: the parts of `Request` the handlers use (method, url, headers, the
 * body as text, JSON, bytes or a stream, `signal`), built lazily: a full `Request` costs several
 * microseconds per request that the hot path does not need. `toRequest()` gives a real one.
 */
export class IncomingRequest {
  #headerPairs: [string, string][];
  #headers: Headers | undefined;
  #body: Uint8Array<ArrayBuffer> | null;
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | null | undefined;
  #used = false;
  #signal: AbortSignal | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    headers: [string, string][],
    body: Uint8Array<ArrayBuffer>,
  ) {
    this.#headerPairs = headers;
    this.#body = body.length > 0 && method !== "GET" && method !== "HEAD" ? body : null;
  }

  get headers(): Headers {
    return this.#headers ??= new RequestHeaders(this.#headerPairs) as unknown as Headers;
  }

  get signal(): AbortSignal {
    return this.#signal ??= new AbortController().signal;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#stream === undefined) {
      const bytes = this.#body;
      this.#stream = bytes === null ? null : new ReadableStream({
        start: (controller) => {
          this.#used = true;
          controller.enqueue(bytes);
          controller.close();
        },
      });
    }
    return this.#stream;
  }

  #take(): Uint8Array<ArrayBuffer> {
    if (this.#used || this.#stream != null) throw new TypeError("Body already consumed");
    this.#used = true;
    return this.#body ?? EMPTY;
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    try {
      return Promise.resolve(this.#take());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }

  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** A real `Request` with the same method, URL, headers and (unread) body. */
  toRequest(): Request {
    return new Request(this.url, { method: this.method, headers: this.headers, body: this.#body });
  }
}
