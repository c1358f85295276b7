/**
 * The servers as real child processes for the ingress tests: `deno task gateway`, `rinha api` and
 * `rinha start`, optionally under a lower open-file limit (`sh -c 'ulimit -n N; exec deno ...'`),
 * with their output captured.
 * @module
 */
import { waitFor } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Which command, and the path a plain GET answers on. */
const KINDS = {
  gateway: { script: ["gateway/gateway_command.ts"], probe: "/health" },
  rinha: { script: ["rinha/rinha_command.ts", "api"], probe: "/payments-summary" },
  "rinha-start": { script: ["rinha/rinha_command.ts", "start"], probe: "/payments-summary" },
} as const;

/** Options of {@link ServerProcess}. */
export interface ServerProcessOptions {
  /** `ulimit -n` for the process. */
  fdLimit?: number;
  /** More flags. */
  args?: string[];
  env?: Record<string, string>;
  /** Leave out `--hostname 127.0.0.1`. */
  noHostname?: boolean;
  /** https:// with this client (TLS). */
  client?: Deno.HttpClient;
}

/** A server child process on `port`. */
export class ServerProcess {
  #child: Deno.ChildProcess;
  #output: Promise<string>;
  exited = false;
  readonly exit: Promise<number>;

  constructor(
    readonly kind: keyof typeof KINDS,
    readonly port: number,
    redisUrl: string | undefined,
    readonly options: ServerProcessOptions = {},
  ) {
    const [script, ...sub] = KINDS[kind].script;
    const argv = [
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}${script}`,
      ...sub,
      "--port",
      String(port),
      ...(options.noHostname ? [] : ["--hostname", "127.0.0.1"]),
      ...(options.args ?? []),
    ];
    const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const limit = options.fdLimit === undefined ? "" : `ulimit -n ${options.fdLimit}; `;
    this.#child = new Deno.Command("sh", {
      args: ["-c", `${limit}exec ${quoted}`],
      env: {
        LOG_LEVEL: "warn",
        ...(redisUrl === undefined ? {} : { REDIS_URL: redisUrl }),
        ...options.env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.exit = this.#child.status.then((s) => {
      this.exited = true;
      return s.code;
    });
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let text = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
      return text;
    };
    this.#output = Promise.all([read(this.#child.stdout), read(this.#child.stderr)])
      .then(([a, b]) => a + b);
  }

  get pid(): number {
    return this.#child.pid;
  }

  get probePath(): string {
    return KINDS[this.kind].probe;
  }

  get url(): string {
    return `${this.options.client ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** A GET of `path` (default: the probe path) on a fresh connection. */
  async get(path = this.probePath, init: RequestInit = {}, ms = 2000): Promise<Response> {
    const client = this.options.client ?? Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const response = await fetch(`${this.url}${path}`, {
        client,
        signal: AbortSignal.timeout(ms),
        ...init,
      });
      const body = await response.arrayBuffer();
      return new Response(body, { status: response.status, headers: response.headers });
    } finally {
      if (this.options.client === undefined) client.close();
    }
  }

  /** The status of a probe GET within `ms`; throws when nothing answers. */
  async probe(ms = 2000): Promise<number> {
    return (await this.get(this.probePath, {}, ms)).status;
  }

  /** Waits until it answers; throws with its output when it exits first. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor(`the ${this.kind} to answer`, async () => {
      if (this.exited) throw new Error(`${this.kind} exited: ${await this.output()}`);
      return await this.probe(1000).then(() => true, () => false);
    }, timeoutMs);
  }

  /** Everything it printed, once it has exited. */
  async output(): Promise<string> {
    await this.exit;
    return await this.#output;
  }

  /** SIGTERM, then the exit; resolves to everything it printed. */
  async stop(): Promise<string> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    return await this.output();
  }
}
