/**
 * Consumers of any queue design as real child processes (the design's own `deno task consume*`
 * command), so the harness can SIGKILL one mid-run exactly as a crash would.
 * @module
 */
import { ChildTool } from "@fastpix/testing";
import type { Redis } from "@fastpix/infra";
import { UserError } from "@fastpix/pix";
import { type DesignName, DESIGNS } from "@fastpix/queue";
import { sleep } from "@fastpix/infra";

/** Options of {@link spawnDesignConsumer}; each becomes the env var the commands read. */
export interface DesignConsumerOptions {
  name: string;
  /** `SETTLE_MS`: simulated settlement per batch (per payment for `basic`). */
  settleMs?: number;
  /** `IDLE_THRESHOLD_MS`: reclaim / claim / heartbeat expiry (ignored by the plain list). */
  idleThresholdMs?: number;
  /** `CONSUMER_BATCH_SIZE` (ignored by `basic`: one at a time). */
  batchSize?: number;
  logLevel?: string;
  echo?: boolean;
}

/**
 * Starts one consumer of `design` on `redisUrl` with the default key names. Settings go through
 * env vars (every command reads the ones it knows), so one call fits every design; the names are
 * pinned so a user's own REDIS_STREAM or LIST_INDEX cannot leak into a measurement.
 */
export function spawnDesignConsumer(
  design: DesignName,
  redisUrl: string,
  options: DesignConsumerOptions,
): ChildTool {
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    CONSUMER_NAME: options.name,
    REDIS_STREAM: "pix_payments",
    GROUP_NAME: "pix_consumers",
    LIST_INDEX: "0",
    BACKEND_RESPONSE_PREFIX: "backend_bacen_response_",
    SETTLE_MS: String(options.settleMs ?? 0),
    LOG_LEVEL: options.logLevel ?? "warn",
  };
  if (options.idleThresholdMs !== undefined) {
    env.IDLE_THRESHOLD_MS = String(options.idleThresholdMs);
  }
  if (options.batchSize !== undefined) env.CONSUMER_BATCH_SIZE = String(options.batchSize);
  return new ChildTool(DESIGNS[design].consumerScript, { env, echo: options.echo });
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Names of the connections open on `redis`'s server (CLIENT LIST). */
export async function connectedNames(redis: Redis): Promise<Set<string>> {
  const list = await redis.client("LIST") as string;
  return new Set([...list.matchAll(/\bname=(\S*)/g)].map((m) => m[1]).filter((n) => n !== ""));
}

/** Consumer processes of one design, started and stopped together. */
export class ConsumerSet {
  readonly children = new Map<string, ChildTool>();

  constructor(
    readonly design: DesignName,
    readonly redisUrl: string,
    readonly defaults: Omit<DesignConsumerOptions, "name"> = {},
  ) {}

  /** Starts consumers named `names` and waits until each has connected to Redis. */
  async start(
    redis: Redis,
    names: string[],
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    let died: string | undefined;
    for (const name of names) {
      const child = spawnDesignConsumer(this.design, this.redisUrl, { ...this.defaults, name });
      this.children.set(name, child);
      child.finished().then(({ code, output }) => {
        if (this.children.get(name) !== child) return; // stopped or killed on purpose
        died ??= `${this.design} consumer ${name} exited with ${code}: ${
          output.trim().split("\n").slice(-3).join(" | ")
        }`;
      });
    }
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const connected = await connectedNames(redis);
      if (names.every((n) => connected.has(n))) return;
      if (options.signal?.aborted) throw new UserError("Interrupted: no report was written");
      if (died !== undefined) throw new Error(died);
      if (Date.now() > deadline) {
        throw new Error(`${this.design} consumers did not connect within ${timeoutMs} ms`);
      }
      await sleep(25);
    }
  }

  /** CPU time (user + system, seconds) the consumer processes have used; NaN off Linux. */
  async cpuSeconds(): Promise<number> {
    let total = 0;
    for (const child of this.children.values()) {
      try {
        const stat = await Deno.readTextFile(`/proc/${child.pid}/stat`);
        // Fields after the parenthesised name: state is 3rd, utime 14th, stime 15th.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      } catch {
        return NaN;
      }
    }
    return total;
  }

  /** SIGKILLs one consumer (a crash) and waits for it to be gone. */
  async crash(name: string): Promise<void> {
    const child = this.children.get(name)!;
    this.children.delete(name);
    child.kill("SIGKILL");
    await child.finished();
  }

  /** Stops every consumer gracefully (SIGTERM); SIGKILL after `graceMs`. Throws on a bad exit. */
  async stop(graceMs = 15_000): Promise<void> {
    const all = [...this.children.entries()];
    this.children.clear();
    for (const [, child] of all) child.kill("SIGTERM");
    const timer = setTimeout(() => all.forEach(([, c]) => c.kill("SIGKILL")), graceMs);
    try {
      const ends = await Promise.all(all.map(([, c]) => c.finished()));
      const bad = ends.findIndex((e) => e.code !== 0);
      if (bad >= 0) {
        throw new Error(
          `${this.design} consumer ${all[bad][0]} exited with ${ends[bad].code}: ` +
            ends[bad].output.trim().split("\n").slice(-3).join(" | "),
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills everything at once (cleanup after an error or an interrupt). */
  killAll(): void {
    for (const child of this.children.values()) child.kill("SIGKILL");
    this.children.clear();
  }
}
