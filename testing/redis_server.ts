/**
 * Private `redis-server` processes on free loopback ports, for tests, the demo and the harnesses.
 * Never touches a server it did not start.
 * @module
 */
import { UserError } from "@fastpix/pix";
import { pingWithin, type RedisTlsOptions, sleep } from "@fastpix/infra";

/** Options of {@link RedisServer.start}. */
export interface RedisServerOptions {
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Data and log folder; a new temporary one when omitted. */
  dir?: string;
  /** Turn on the append-only file (with `appendfsync always`, so a SIGKILL loses nothing). */
  appendOnly?: boolean;
  /** More `redis-server` arguments, e.g. `["--maxmemory", "100mb"]`. */
  args?: string[];
  /**
   * Serve TLS only (`--tls-port`, no plain port): the server's certificate and key, the CA that
   * clients' certificates must chain to, and whether clients must present one.
   */
  tls?: { certFile: string; keyFile: string; caFile: string; authClients?: boolean };
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Whether `name` is a command on PATH. */
export async function commandExists(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Makes sure the command `binary` exists: installs Debian's `debianPackage` when running as root,
 * else throws a one-line {@link UserError}: `<binary> is not installed: <advice>`.
 */
export async function ensureDebianBinary(
  binary: string,
  options: { debianPackage: string; advice: string },
): Promise<void> {
  if (await commandExists(binary)) return;
  if (Deno.uid() === 0 && await commandExists("apt-get")) {
    console.error(`${binary} is missing: installing Debian's ${options.debianPackage} package`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await new Deno.Command("apt-get", { args: ["update", "-qq"], env, stdout: "null" }).output();
    const install = await new Deno.Command("apt-get", {
      args: ["install", "-y", "-qq", options.debianPackage],
      env,
      stdout: "null",
    }).output();
    if (install.success && await commandExists(binary)) return;
  }
  throw new UserError(`${binary} is not installed: ${options.advice}`);
}

/**
 * Makes sure a `redis-server` binary exists: installs Debian's package when running as root,
 * else throws a one-line {@link UserError} saying what to install.
 */
export function ensureRedisServerBinary(): Promise<void> {
  return ensureDebianBinary("redis-server", {
    debianPackage: "redis-server",
    advice: "install it (Debian: sudo apt-get install redis-server) or set REDIS_URL",
  });
}

/** A `redis-server` child process. */
export class RedisServer {
  #child: Deno.ChildProcess;
  #ownsDir: boolean;

  private constructor(
    child: Deno.ChildProcess,
    readonly port: number,
    readonly dir: string,
    readonly options: RedisServerOptions,
    ownsDir: boolean,
  ) {
    this.#child = child;
    this.#ownsDir = ownsDir;
  }

  /** `redis://127.0.0.1:<port>` (`rediss://` with TLS). */
  get url(): string {
    return `${this.options.tls ? "rediss" : "redis"}://127.0.0.1:${this.port}`;
  }

  /** What a client needs to reach a TLS server (the CA, and the client certificate if asked). */
  clientTls(clientCertFile?: string, clientKeyFile?: string): RedisTlsOptions | undefined {
    const tls = this.options.tls;
    if (tls === undefined) return undefined;
    const read = (path?: string) => path === undefined ? undefined : Deno.readTextFileSync(path);
    return { ca: read(tls.caFile), cert: read(clientCertFile), key: read(clientKeyFile) };
  }

  /** The server's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Starts a server and waits until it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    await ensureRedisServerBinary();
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "fastpix-redis-" });
    await Deno.mkdir(dir, { recursive: true });
    const port = options.port ?? freePort();
    const server = new RedisServer(spawn(port, dir, options), port, dir, options, ownsDir);
    await server.#waitReady();
    return server;
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await pingWithin(this.url, 500, this.#probeTls())) return;
      await sleep(50);
    }
    throw new Error(
      `redis-server on port ${this.port} did not answer within 10 s (log in ${this.dir})`,
    );
  }

  /** TLS for the readiness probe: the server's own certificate serves as the client's. */
  #probeTls(): RedisTlsOptions | undefined {
    const tls = this.options.tls;
    return tls && this.clientTls(tls.certFile, tls.keyFile);
  }

  /** Kills the server at once (SIGKILL): an outage, not a shutdown. */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
  }

  /** Starts the server again on the same port and folder (after {@link kill}). */
  async restart(): Promise<void> {
    this.#child = spawn(this.port, this.dir, this.options);
    await this.#waitReady();
  }

  /** Stops the server and removes its folder if it made one. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.#child.status;
    if (this.#ownsDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Stops the server (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function spawn(port: number, dir: string, options: RedisServerOptions): Deno.ChildProcess {
  const tls = options.tls;
  const listen = tls === undefined ? ["--port", String(port)] : [
    ...["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certFile],
    ...["--tls-key-file", tls.keyFile, "--tls-ca-cert-file", tls.caFile],
    ...["--tls-auth-clients", tls.authClients ? "yes" : "no"],
  ];
  const args = [
    ...listen,
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--logfile",
    "redis.log",
    "--daemonize",
    "no",
    "--appendonly",
    options.appendOnly ? "yes" : "no",
    "--appendfsync",
    "always",
    ...(options.args ?? []),
  ]; // deno-fmt-ignore
  return new Deno.Command("redis-server", { args, stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
}
