/**
 * A `wait=true` storm against a real gateway process: many requests, each from a backend of its
 * own, while the consumer is paused (SIGSTOP), so every one waits its full timeout. Measures the
 * gateway's resident memory idle, at its peak and once the waiters have timed out, how many
 * confirmation streams it watched, and the CPU Redis spends afterwards. A bounded gateway comes
 * back near its idle memory and stops reading streams nobody waits on.
 * @module
 */
import { createRedis, type Redis, sleep } from "@fastpix/infra";
import { freePort, RedisServer, spawnConsumer } from "@fastpix/testing";
import { type GatewayProcess, startGatewayProcess } from "./gateway_process.ts";
import { parsePrometheusText, sampleValue } from "@fastpix/gateway";

/** Settings of {@link runWaiterStorm}. */
export interface WaiterStormOptions {
  /** `wait=true` requests, each with a backend id of its own. */
  requests: number;
  /** Requests in flight at once (each holds a connection: mind the open-file limit). */
  concurrency: number;
  /** The gateway's `--wait-timeout-ms`. */
  waitTimeoutMs: number;
  /** The gateway's `--watch-idle-ms`. */
  watchIdleMs: number;
  /** Quiet seconds after the storm before "after" is measured. */
  settleS: number;
  /** More `deno task gateway` flags (`--max-waiters 20000`). */
  gatewayArgs?: string[];
  /** Another gateway script to measure (an absolute path, e.g. an older checkout's). */
  gatewayScript?: string;
}

/** What {@link runWaiterStorm} measured. */
export interface WaiterStormResult {
  requests: number;
  /** Answers by status (504: timed out waiting, 503: refused by a bound). */
  statuses: Record<string, number>;
  /** Requests that got no HTTP answer (connection errors). */
  failed: number;
  durationS: number;
  /** The gateway's resident memory, MB: warmed up and idle, the most seen, after the storm. */
  rssIdleMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /** Confirmation streams watched: the most seen during the storm, and after it. */
  watchedPeak: number | null;
  watchedAfter: number | null;
  /** Redis CPU over 2 s once the storm is over, % of one core. */
  redisCpuAfterPct: number;
}

/** Resident memory of process `pid`, MB (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 102.4) / 10;
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const get = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get("used_cpu_user") + get("used_cpu_sys");
}

/** The gateway's watched-streams gauge (`null`: the gateway has no such gauge). */
async function watchedStreams(base: string): Promise<number | null> {
  const page = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
  return page.samples.some((s) => s.name === "fastpix_gateway_watched_streams")
    ? sampleValue(page, "fastpix_gateway_watched_streams")
    : null;
}

/** Runs the storm on a private Redis and resolves to what it measured. */
export async function runWaiterStorm(
  o: WaiterStormOptions,
  onLine: (line: string) => void = () => {},
): Promise<WaiterStormResult> {
  const server = await RedisServer.start();
  const redis = createRedis(server.url, { name: "waiter-storm" });
  const consumer = spawnConsumer(server.url, {
    name: "storm_consumer",
    env: { LOG_LEVEL: "warn" },
  });
  let gateway: GatewayProcess | undefined;
  const http = Deno.createHttpClient({ poolMaxIdlePerHost: o.concurrency });
  let httpOpen = true;
  const closeHttp = () => {
    if (httpOpen) http.close();
    httpOpen = false;
  };
  try {
    while (!(await hasGroup(redis))) await sleep(50);
    Deno.kill(consumer.pid, "SIGSTOP"); // paused: payments are taken by nobody
    gateway = await startGatewayProcess({
      redisUrl: server.url,
      port: freePort(),
      args: ["--wait-timeout-ms", String(o.waitTimeoutMs), ...(o.gatewayArgs ?? [])],
      // An env var rather than a flag: an older gateway without it still starts.
      env: { WATCH_IDLE_MS: String(o.watchIdleMs) },
      script: o.gatewayScript,
    });
    const base = gateway.url;
    const pid = gateway.tool.pid;
    const send = async (backend: string) => {
      try {
        const r = await fetch(`${base}/pix/payments?wait=true`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ backend_id: backend, amount: "1.00" }),
          client: http,
        });
        await r.body?.cancel();
        return r.status;
      } catch {
        return 0;
      }
    };
    // Warm-up: the same path, a few backends, so idle memory is that of a gateway that has worked.
    await Promise.all(Array.from({ length: 200 }, (_, i) => send(`warm-${i % 20}`)));
    await sleep(o.watchIdleMs + 1500);
    const rssIdleMb = await rssMb(pid);
    onLine(`idle: ${rssIdleMb} MB resident`);

    const statuses: Record<string, number> = {};
    let failed = 0, next = 0, rssPeakMb = rssIdleMb, watchedPeak = await watchedStreams(base);
    let running = true;
    const sampler = (async () => {
      while (running) {
        rssPeakMb = Math.max(rssPeakMb, await rssMb(pid));
        const watched = await watchedStreams(base).catch(() => null);
        if (watched !== null) watchedPeak = Math.max(watchedPeak ?? 0, watched);
        await sleep(200);
      }
    })();
    const started = performance.now();
    onLine(`storm: ${o.requests} wait=true requests, ${o.concurrency} at a time, one backend each`);
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (next < o.requests) {
        const status = await send(`storm-${next++}`);
        if (status === 0) failed++;
        else statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }));
    const durationS = Math.round((performance.now() - started) / 100) / 10;
    running = false;
    await sampler;
    closeHttp(); // the clients go away: their keep-alive connections close
    onLine(`answered in ${durationS} s: ${JSON.stringify(statuses)}, ${failed} failed`);

    // The waiters have timed out: give the idle streams time to be dropped, then measure.
    const deadline = Date.now() + o.watchIdleMs + 10_000;
    while (Date.now() < deadline && ((await watchedStreams(base)) ?? 0) > 0) await sleep(200);
    // Then let the process settle (garbage collected, freed memory returned) before measuring.
    const settle: number[] = [];
    for (let i = 0; i < o.settleS; i++) {
      await sleep(1000);
      settle.push(await rssMb(pid));
    }
    onLine(`settling, resident MB each second: ${settle.join(" ")}`);
    const watchedAfter = await watchedStreams(base);
    const cpu0 = await redisCpuSeconds(redis);
    const t0 = performance.now();
    await sleep(2000);
    const redisCpuAfterPct = Math.round(
      ((await redisCpuSeconds(redis)) - cpu0) / ((performance.now() - t0) / 1000) * 1000,
    ) / 10;
    const rssAfterMb = await rssMb(pid);
    onLine(
      `after: ${rssAfterMb} MB resident (peak ${rssPeakMb}), ${watchedAfter} streams watched ` +
        `(peak ${watchedPeak}), Redis CPU ${redisCpuAfterPct}%`,
    );
    return {
      requests: o.requests,
      statuses,
      failed,
      durationS,
      rssIdleMb,
      rssPeakMb,
      rssAfterMb,
      watchedPeak,
      watchedAfter,
      redisCpuAfterPct,
    };
  } finally {
    closeHttp();
    await gateway?.stop();
    try {
      Deno.kill(consumer.pid, "SIGCONT");
    } catch { /* gone */ }
    consumer.kill("SIGTERM");
    await consumer.finished();
    redis.disconnect();
    await server.stop();
  }
}

async function hasGroup(redis: Redis): Promise<boolean> {
  try {
    return (await redis.xinfo("GROUPS", "pix_payments") as unknown[]).length > 0;
  } catch {
    return false;
  }
}
