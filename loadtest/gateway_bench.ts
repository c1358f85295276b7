/**
 * Throughput and latency of `POST /pix/payments` (202 mode) through real gateway processes on a
 * private Redis, driven by Debian's `wrk` over loopback for a bounded time. A benchmark, not a test.
 * @module
 */
import { type MachineInfo, machineInfo } from "./machine.ts";
import { createRedis, pingWithin, redactUrl, type Redis, sleep } from "@fastpix/infra";
import { ensureDebianBinary, freePort, RedisServer, spawnConsumer } from "@fastpix/testing";
import { type GatewayProcess, startGatewayProcess } from "./gateway_process.ts";
import { claimPort, type PortClaim } from "@fastpix/http";

/** Settings of a gateway benchmark. */
export interface GatewayBenchOptions {
  /** Use this Redis instead of a private one. */
  redisUrl?: string;
  /** Length of the measured run, s. */
  durationS: number;
  /** Unmeasured run first, s. */
  warmupS: number;
  /** Open HTTP connections. */
  connections: number;
  /** wrk threads. */
  threads: number;
  /** Gateway processes sharing the port (`reusePort`). */
  instances: number;
  /** Consumer processes draining the stream meanwhile (0: none, the stream just grows). */
  consumers: number;
  /** More `deno task gateway` flags (`--batch-max 1` turns batching off). */
  gatewayArgs: string[];
}

/** Latency percentiles, ms. */
export interface WrkLatency {
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
}

/** What wrk measured. */
export interface WrkResult {
  requests: number;
  durationS: number;
  rate: number;
  non2xx: number;
  socketErrors: number;
  latency: WrkLatency;
}

/** What `deno task bench:gateway` prints and writes. */
export interface GatewayBenchResult {
  at: string;
  machine: MachineInfo & { wrk: string };
  options: GatewayBenchOptions;
  result: WrkResult;
  /** Entries the measured run added to the stream. */
  enqueued: number;
  /** Answered 2xx but not in the stream (must be 0). */
  lost: number;
  /**
   * CPU time the gateway process(es) used per request during the measured run, µs (user + system,
   * from /proc). Unlike req/s it hardly moves when other work shares the cores: 1e6 / this is
   * the requests/s one fully available core would carry.
   */
  gatewayCpuUsPerRequest: number | null;
}

/** User + system CPU time of process `pid` so far, µs (`null` where /proc is missing). */
async function cpuMicros(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11], fields[12]: utime, stime in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

async function totalCpuMicros(pids: number[]): Promise<number | null> {
  const all = await Promise.all(pids.map(cpuMicros));
  return all.includes(null) ? null : all.reduce((s: number, v) => s + v!, 0);
}

const toMs = (value: string, unit: string) =>
  Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);

/** Reads wrk's `--latency` report. */
export function parseWrkOutput(text: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    if (m === null) throw new Error(`Cannot read wrk's output (no ${re.source}): ${text}`);
    return m;
  };
  const pct = (p: number) => {
    const m = num(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    return toMs(m[1], m[2]);
  };
  const total = num(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  const max = num(/^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/m);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: toMs(total[2], total[3]) / 1000,
    rate: Number(num(/Requests\/sec:\s+([\d.]+)/)[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((s, n) => s + Number(n), 0) : 0,
    latency: {
      p50: pct(50),
      p75: pct(75),
      p90: pct(90),
      p99: pct(99),
      max: toMs(max[1], max[2]),
    },
  };
}

async function runWrk(url: string, o: GatewayBenchOptions, seconds: number): Promise<WrkResult> {
  const script = new URL("./wrk/post_payment.lua", import.meta.url).pathname;
  const { stdout, stderr, success } = await new Deno.Command("wrk", {
    args: [
      `-t${o.threads}`,
      `-c${o.connections}`,
      `-d${seconds}s`,
      "--timeout",
      "5s",
      "--latency",
      "-s",
      script,
      `${url}/pix/payments`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (!success) throw new Error(`wrk failed: ${text.trim()}`);
  return parseWrkOutput(text);
}

/** Entries ever added to `stream` (XINFO STREAM `entries-added`: trimming does not lower it). */
async function entriesAdded(redis: Redis, stream: string): Promise<number> {
  if (await redis.exists(stream) === 0) return 0;
  const info = await redis.xinfo("STREAM", stream) as unknown[];
  return Number(info[info.indexOf("entries-added") + 1]);
}

/** Runs the benchmark and resolves to its result. */
export async function runGatewayBench(
  o: GatewayBenchOptions,
  onLine: (line: string) => void,
): Promise<GatewayBenchResult> {
  await ensureDebianBinary("wrk", {
    debianPackage: "wrk",
    advice: "install it (Debian: sudo apt-get install wrk)",
  });
  let server: RedisServer | undefined;
  let url = o.redisUrl;
  if (url === undefined || !(await pingWithin(url, 1000))) {
    server = await RedisServer.start();
    url = server.url;
  }
  const redis = createRedis(url, { name: "gateway-bench" });
  const port = freePort();
  const gateways: GatewayProcess[] = [];
  const consumers = Array.from(
    { length: o.consumers },
    (_, i) => spawnConsumer(url, { name: `bench_consumer_${i}`, env: { LOG_LEVEL: "warn" } }),
  );
  // Several processes on one port: this bench claims it for them (they are one stack).
  let claim: PortClaim | undefined;
  try {
    if (o.instances > 1) claim = await claimPort(port, "127.0.0.1", "bench:gateway");
    for (let i = 0; i < o.instances; i++) {
      gateways.push(
        await startGatewayProcess({
          redisUrl: url,
          port,
          args: o.gatewayArgs,
          echo: true,
          stack: claim?.stack,
        }),
      );
    }
    const base = gateways[0].url;
    if (o.warmupS > 0) {
      onLine(`warm-up: ${o.warmupS} s (not measured)`);
      await runWrk(base, o, o.warmupS);
    }
    const before = await entriesAdded(redis, "pix_payments");
    onLine(
      `measuring: ${o.durationS} s, ${o.connections} connections, ${o.instances} gateway process(es)`,
    );
    const pids = gateways.map((g) => g.tool.pid);
    const cpuBefore = await totalCpuMicros(pids);
    const result = await runWrk(base, o, o.durationS);
    const cpuAfter = await totalCpuMicros(pids);
    await sleep(200); // the last batches in flight
    const enqueued = await entriesAdded(redis, "pix_payments") - before;
    const accepted = result.requests - result.non2xx;
    const wrkVersion = new TextDecoder().decode(
      (await new Deno.Command("wrk", { args: ["-v"], stdout: "piped", stderr: "piped" }).output())
        .stdout,
    ).split("\n")[0].trim();
    return {
      at: new Date().toISOString(),
      machine: { ...await machineInfo(), wrk: wrkVersion },
      // Result files are shared: never the password.
      options: { ...o, redisUrl: o.redisUrl === undefined ? undefined : redactUrl(o.redisUrl) },
      result,
      enqueued,
      lost: Math.max(0, accepted - enqueued),
      gatewayCpuUsPerRequest: cpuBefore === null || cpuAfter === null || result.requests === 0
        ? null
        : Math.round((cpuAfter - cpuBefore) / result.requests * 10) / 10,
    };
  } finally {
    for (const g of gateways) await g.stop();
    claim?.release();
    for (const c of consumers) c.kill("SIGTERM");
    for (const c of consumers) await c.finished();
    redis.disconnect();
    await server?.stop();
  }
}
