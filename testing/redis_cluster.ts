/**
 * A private Redis Cluster on loopback ports with Debian's `redis-server` and `redis-cli`: N masters
 * (and optionally R replicas each), created with `redis-cli --cluster create`. Tests start one as
 * child processes on free ports in a temporary folder; `deno task cluster up` starts daemons that
 * outlive the command, in `.fastpix/cluster/`. Never touches a server it did not start.
 * @module
 */
import { Redis } from "ioredis";
import { UserError } from "@fastpix/pix";
import { ensureRedisServerBinary, freePort, RedisServer } from "./redis_server.ts";
import { sleep } from "@fastpix/infra";

/** Options of {@link RedisCluster.start} and {@link startClusterDaemons}. */
export interface RedisClusterOptions {
  /** Masters (at least 3: Redis needs a majority of masters to promote a replica). */
  masters?: number;
  /** Replicas per master (0 or more). */
  replicas?: number;
  /** Ports of the nodes, masters first; free ones when omitted. */
  ports?: number[];
  /** Folder for the nodes' data (one sub-folder per port); a temporary one when omitted. */
  dir?: string;
  /** `cluster-node-timeout`: how long a master may be unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
}

/** One node as `CLUSTER NODES` describes it. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: "master" | "replica";
  /** The master's id, for a replica. */
  masterId?: string;
  /** Flagged `fail` (or `fail?`) by the node asked. */
  failing: boolean;
  /** Slot ranges as `a-b`. */
  slots: string[];
}

/** Runs one command on the node at `port`; rejects when it does not answer. */
export async function nodeCommand(port: number, ...args: (string | number)[]): Promise<unknown> {
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return await redis.call(String(args[0]), ...args.slice(1));
  } finally {
    redis.disconnect();
  }
}

/** Parses `CLUSTER NODES` output. */
export function parseClusterNodesReply(text: string): ClusterNodeInfo[] {
  return text.trim().split("\n").filter((l) => l.trim() !== "").map((line) => {
    const [id, address, flags, master, , , , , ...slots] = line.trim().split(" ");
    const list = flags.split(",");
    return {
      id,
      port: Number(address.split("@")[0].split(":").pop()),
      role: list.includes("master") ? "master" : "replica",
      masterId: master === "-" ? undefined : master,
      failing: list.includes("fail") || list.includes("fail?"),
      slots: slots.filter((s) => !s.startsWith("[")),
    };
  });
}

/** `CLUSTER NODES` as seen from the node at `port`. */
export async function clusterNodes(port: number): Promise<ClusterNodeInfo[]> {
  return parseClusterNodesReply(String(await nodeCommand(port, "CLUSTER", "NODES")));
}

function clusterArgs(nodeTimeoutMs: number): string[] {
  return [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    String(nodeTimeoutMs),
    // A replica may always take over, however long its link was down (tests kill masters).
    "--cluster-replica-validity-factor",
    "0",
  ]; // deno-fmt-ignore
}

/** Joins fresh nodes into a cluster with `redis-cli --cluster create` and waits until it is ok. */
async function createCluster(ports: number[], replicas: number): Promise<void> {
  const { success, stdout, stderr } = await new Deno.Command("redis-cli", {
    args: [
      "--cluster",
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    throw new Error(`redis-cli --cluster create failed: ${text.trim().split("\n").pop()}`);
  }
  await waitClusterOk(ports, 20_000);
}

/**
 * Waits until every node at `ports` answers with `cluster_state:ok`, knows every other one, and
 * every replica's link to its master is up.
 */
export async function waitClusterOk(ports: number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      let ok = true;
      for (const port of ports) {
        const info = String(await nodeCommand(port, "CLUSTER", "INFO"));
        const replication = String(await nodeCommand(port, "INFO", "replication"));
        const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]);
        if (!info.includes("cluster_state:ok") || known < ports.length) {
          ok = false;
          last = `node ${port}: ${/cluster_state:\w+/.exec(info)?.[0]}, knows ${known} nodes`;
        } else if (
          replication.includes("role:slave") && !replication.includes("master_link_status:up")
        ) {
          ok = false;
          last = `replica ${port} not synced with its master yet`;
        }
      }
      if (ok) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`Redis Cluster on ${ports.join(",")} not ok within ${timeoutMs} ms (${last})`);
}

/** A Redis Cluster whose nodes are children of this process (for tests and benchmarks). */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[], readonly dir: string, ownsDir: boolean) {
    this.#ownsDir = ownsDir;
  }
  #ownsDir: boolean;
  #killed = new Set<number>();

  /** Starts `masters × (1 + replicas)` nodes, creates the cluster and waits until it is ok. */
  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    await ensureRedisServerBinary();
    const total = (options.masters ?? 3) * (1 + (options.replicas ?? 0));
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "fastpix-cluster-" });
    const ports = options.ports ?? Array.from({ length: total }, freePort);
    const servers: RedisServer[] = [];
    const cluster = new RedisCluster(servers, dir, ownsDir);
    try {
      for (const port of ports) {
        servers.push(
          await RedisServer.start({
            port,
            dir: `${dir}/${port}`,
            args: clusterArgs(options.nodeTimeoutMs ?? 5000),
          }),
        );
      }
      await createCluster(ports, options.replicas ?? 0);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every node's port, masters first as created. */
  get ports(): number[] {
    return this.servers.map((s) => s.port);
  }

  /** Seed nodes for `REDIS_CLUSTER` (`127.0.0.1:<port>` each). */
  get seeds(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  /** Ports of the live nodes. */
  get livePorts(): number[] {
    return this.ports.filter((p) => !this.#killed.has(p));
  }

  /** The nodes as a live node sees them now. */
  async nodes(): Promise<ClusterNodeInfo[]> {
    return await clusterNodes(this.livePorts[0]);
  }

  /** Port of the master serving `slot` now. */
  async masterOf(slot: number): Promise<number> {
    for (const node of await this.nodes()) {
      if (node.role !== "master" || node.failing) continue;
      for (const range of node.slots) {
        const [a, b = a] = range.split("-").map(Number);
        if (slot >= a && slot <= b) return node.port;
      }
    }
    throw new Error(`No live master serves slot ${slot}`);
  }

  /** SIGKILLs the node at `port` (a crash, not a shutdown). */
  async kill(port: number): Promise<void> {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`No node on port ${port} in this cluster`);
    this.#killed.add(port);
    await server.kill();
  }

  /**
   * Starts a killed node again on its port and folder: it keeps its node id (`nodes.conf`) and, if
   * its replica took over meanwhile, rejoins as that node's replica. Resolves once it is synced.
   */
  async restart(port: number): Promise<void> {
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`No node on port ${port} in this cluster`);
    await server.restart();
    this.#killed.delete(port);
    await waitClusterOk(this.livePorts, 20_000);
  }

  /** Waits until the live nodes agree the cluster is ok again (after a failover). */
  async waitOk(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await waitClusterOk(this.livePorts, timeoutMs);
    // cluster_state:ok also needs every slot served by a master the live nodes do not flag.
    while (Date.now() < deadline) {
      const nodes = await this.nodes();
      const live = nodes.filter((n) => n.role === "master" && !n.failing && n.slots.length > 0);
      if (live.every((n) => this.livePorts.includes(n.port))) return;
      await sleep(100);
    }
    throw new Error(`Redis Cluster did not fail over within ${timeoutMs} ms`);
  }

  /** Stops every node and removes the folder if this made it. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
    if (this.#ownsDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Stops the cluster (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** What `deno task cluster up` records in its folder, for `down` and `status`. */
export interface ClusterState {
  ports: number[];
  masters: number;
  replicas: number;
  startedAt: string;
}

const STATE_FILE = "cluster.json";

/** Reads the state of a daemon cluster in `dir`; undefined when none was started there. */
export async function readClusterState(dir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/${STATE_FILE}`)) as ClusterState;
  } catch {
    return undefined;
  }
}

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a cluster of daemonized `redis-server`s (they outlive this process) on `basePort`,
 * `basePort + 1`, ... with data in `dir/<port>`, and records it in `dir/cluster.json`.
 */
export async function startClusterDaemons(
  dir: string,
  options: RedisClusterOptions & { basePort: number },
): Promise<ClusterState> {
  await ensureRedisServerBinary();
  if (await readClusterState(dir)) {
    throw new UserError(`A cluster is already up in ${dir}: run "deno task cluster down" first`);
  }
  const masters = options.masters ?? 3, replicas = options.replicas ?? 0;
  const ports = Array.from({ length: masters * (1 + replicas) }, (_, i) => options.basePort + i);
  const busy = ports.filter((p) => !portIsFree(p));
  if (busy.length > 0) {
    throw new UserError(`Port ${busy.join(", ")} is in use: pick another --base-port`);
  }
  const state: ClusterState = { ports, masters, replicas, startedAt: new Date().toISOString() };
  for (const port of ports) {
    const nodeDir = `${dir}/${port}`;
    await Deno.mkdir(nodeDir, { recursive: true });
    const { success } = await new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        nodeDir,
        "--daemonize",
        "yes",
        "--pidfile",
        `${nodeDir}/redis.pid`,
        "--logfile",
        "redis.log",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        ...clusterArgs(options.nodeTimeoutMs ?? 5000),
      ], // deno-fmt-ignore
      stdout: "null",
      stderr: "null",
    }).output();
    if (!success) throw new Error(`redis-server on port ${port} did not start (see ${nodeDir})`);
  }
  await Deno.writeTextFile(`${dir}/${STATE_FILE}`, JSON.stringify(state, null, 2) + "\n");
  await waitAnswering(ports);
  await createCluster(ports, replicas);
  return state;
}

async function waitAnswering(ports: number[]): Promise<void> {
  for (const port of ports) {
    const deadline = Date.now() + 10_000;
    while (true) {
      try {
        if (await nodeCommand(port, "PING") === "PONG") break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
      await sleep(50);
    }
  }
}

/**
 * Stops the daemon cluster recorded in `dir` (SHUTDOWN NOSAVE, or SIGTERM to the pid it wrote)
 * and removes its data; resolves to the ports stopped (none when no cluster was up).
 */
export async function stopClusterDaemons(dir: string): Promise<number[]> {
  const state = await readClusterState(dir);
  if (!state) return [];
  const waitFree = async (port: number, ms: number) => {
    const deadline = Date.now() + ms;
    while (!portIsFree(port) && Date.now() < deadline) await sleep(50);
    return portIsFree(port);
  };
  for (const port of state.ports) {
    // SHUTDOWN answers by closing the connection, so its error is expected.
    await nodeCommand(port, "SHUTDOWN", "NOSAVE").catch(() => {});
    if (await waitFree(port, 3000)) continue;
    // Not answering: stop the pid it wrote when we started it.
    const pid = Number(await Deno.readTextFile(`${dir}/${port}/redis.pid`).catch(() => ""));
    if (pid > 0) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
    }
    if (!await waitFree(port, 5000)) throw new Error(`Redis on port ${port} did not stop`);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return state.ports;
}
