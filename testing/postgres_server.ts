/**
 * Private PostgreSQL clusters for tests and harnesses: `initdb` in a new temporary folder, a server
 * on a free loopback port with its unix socket in that folder, trust authentication, and nothing
 * shared with any other PostgreSQL on the machine. As root the server runs as the `postgres` user
 * (PostgreSQL refuses to run as root). Missing binaries are installed from Debian's `postgresql`
 * package when running as root.
 * @module
 */
import { UserError } from "@fastpix/pix";
import { freePort } from "./redis_server.ts";

/** Options of {@link PostgresServer.start}. */
export interface PostgresServerOptions {
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Extra server settings (`-c name=value`), e.g. `{ max_connections: "50" }`. */
  settings?: Record<string, string>;
}

/** The bootstrap superuser of private clusters. */
export const PRIVATE_PG_USER = "fastpix";

async function run(
  command: string,
  args: string[],
): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(command, { args, stdin: "null" }).output();
    const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    return { ok: r.success, out: text.trim() };
  } catch (error) {
    return { ok: false, out: String(error) };
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Finds the folder holding `initdb`, `pg_ctl` and `postgres`; `undefined` when there is none. */
export async function findPostgresBinDir(): Promise<string | undefined> {
  const candidates: string[] = [];
  const config = await run("pg_config", ["--bindir"]);
  if (config.ok) candidates.push(config.out);
  try {
    const versions: number[] = [];
    for await (const e of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(e.name)) versions.push(Number(e.name));
    }
    versions.sort((a, b) => b - a).forEach((v) => candidates.push(`/usr/lib/postgresql/${v}/bin`));
  } catch { /* no Debian layout */ }
  const onPath = await run("sh", ["-c", "command -v initdb"]);
  if (onPath.ok && onPath.out) {
    candidates.push((await Deno.realPath(onPath.out)).replace(/\/initdb$/, ""));
  }
  for (const dir of candidates) {
    if (await isFile(`${dir}/initdb`) && await isFile(`${dir}/pg_ctl`)) return dir;
  }
  return undefined;
}

/**
 * The PostgreSQL binaries' folder: installs Debian's `postgresql` package when they are missing and
 * this process is root, else throws a one-line {@link UserError} saying what to install.
 */
export async function ensurePostgresBinaries(): Promise<string> {
  const found = await findPostgresBinDir();
  if (found) return found;
  if (Deno.uid() === 0 && (await run("sh", ["-c", "command -v apt-get"])).ok) {
    console.error("PostgreSQL is missing: installing Debian's postgresql package");
    await run("apt-get", ["update", "-qq"]);
    await new Deno.Command("apt-get", {
      args: ["install", "-y", "-qq", "postgresql"],
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "null",
    }).output();
    const installed = await findPostgresBinDir();
    if (installed) return installed;
  }
  throw new UserError(
    "PostgreSQL is not installed: install it (Debian: sudo apt-get install postgresql) or set POSTGRES_DSN",
  );
}

/** As root, the user the server runs as (`postgres`, else `nobody`) and its ids. */
async function serverUser(): Promise<{ name: string; uid: number; gid: number } | undefined> {
  if (Deno.uid() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    const uid = await run("id", ["-u", name]);
    const gid = await run("id", ["-g", name]);
    if (uid.ok && gid.ok) return { name, uid: Number(uid.out), gid: Number(gid.out) };
  }
  throw new UserError("Cannot run PostgreSQL as root and no postgres or nobody user exists");
}

/** A private PostgreSQL cluster (`initdb` + `pg_ctl`) in a temporary folder. */
export class PostgresServer {
  #running = false;

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly binDir: string,
    readonly runAs: string | undefined,
    readonly options: PostgresServerOptions,
  ) {}

  /** `postgres://fastpix@127.0.0.1:<port>/<database>`. */
  dsn(database = "postgres"): string {
    return `postgres://${PRIVATE_PG_USER}@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates a cluster in a new temporary folder and starts it. */
  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const binDir = await ensurePostgresBinaries();
    const user = await serverUser();
    const dir = await Deno.makeTempDir({ prefix: "fastpix-pg-" });
    if (user) await Deno.chown(dir, user.uid, user.gid);
    const server = new PostgresServer(options.port ?? freePort(), dir, binDir, user?.name, options);
    const init = await server.#tool("initdb", [
      "-D",
      `${dir}/data`,
      "-U",
      PRIVATE_PG_USER,
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    if (!init.ok) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`initdb failed in ${dir}: ${init.out.split("\n").slice(-3).join(" ")}`);
    }
    await server.restart();
    return server;
  }

  /** Runs one of the cluster's binaries, as the server user when root. */
  #tool(name: string, args: string[]): Promise<{ ok: boolean; out: string }> {
    const path = `${this.binDir}/${name}`;
    return this.runAs ? run("runuser", ["-u", this.runAs, "--", path, ...args]) : run(path, args);
  }

  /** Starts the server (again, after {@link kill} or {@link stop}) and waits until it accepts connections. */
  async restart(): Promise<void> {
    const settings: Record<string, string> = {
      port: String(this.port),
      listen_addresses: "127.0.0.1",
      unix_socket_directories: this.dir,
      fsync: "off",
      full_page_writes: "off",
      ...this.options.settings,
    };
    const serverArgs = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ");
    const r = await this.#tool("pg_ctl", [
      "start",
      "-D",
      `${this.dir}/data`,
      "-l",
      `${this.dir}/postgres.log`,
      "-w",
      "-t",
      "60",
      "-o",
      serverArgs,
    ]);
    if (!r.ok) {
      throw new Error(
        `PostgreSQL did not start on port ${this.port}: ${r.out} (log in ${this.dir})`,
      );
    }
    this.#running = true;
  }

  /** Stops the server at once (`pg_ctl stop -m immediate`): an outage, not a shutdown. */
  async kill(): Promise<void> {
    await this.#stop("immediate");
  }

  async #stop(mode: "fast" | "immediate"): Promise<void> {
    if (!this.#running) return;
    await this.#tool("pg_ctl", ["stop", "-D", `${this.dir}/data`, "-m", mode, "-w"]);
    this.#running = false;
  }

  /** Runs SQL with `psql` as the superuser (for set-up such as `CREATE DATABASE`). */
  async psql(sql: string, database = "postgres"): Promise<string> {
    const r = await run(`${this.binDir}/psql`, [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-d",
      this.dsn(database),
      "-c",
      sql,
    ]);
    if (!r.ok) throw new Error(`psql failed: ${r.out}`);
    return r.out;
  }

  /** Creates database `name` and returns its DSN. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Bad database name "${name}"`);
    await this.psql(`CREATE DATABASE ${name}`);
    return this.dsn(name);
  }

  /** Stops the server and removes its folder. */
  async stop(): Promise<void> {
    await this.#stop("fast");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Stops the server (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
