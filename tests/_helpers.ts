/**
 * Test fixtures: private redis-server processes, consumer processes that can really be killed,
 * payment injection and polling. Every server is started on a free loopback port and stopped.
 * @module
 */
import {
  ChildTool,
  PostgresServer,
  RedisServer,
  type RedisServerOptions,
  spawnConsumer as spawnConsumerProcess,
} from "@fastpix/testing";
import { createRedis, type Logger, type Redis, type RedisClient, sleep } from "@fastpix/infra";
import {
  DEFAULT_LIMITS,
  dlqKey,
  fieldsToRecord,
  listProcessingKey,
  parseAmountCents,
  parseConfirmation,
  type PaymentMessage,
} from "@fastpix/pix";
import { makePayment } from "@fastpix/simulators";
import { type DesignName, DESIGNS, enqueuerFor, streamEnqueuer } from "@fastpix/queue";
import {
  type BasicConsumerOptions,
  type Batch,
  buildBatch,
  CONSUMER_DEFAULTS,
  type RawEntry,
  type StreamConsumerOptions,
} from "@fastpix/consumer";
import {
  LIST_CONSUMER_DEFAULTS,
  type ListBatchContext,
  type ListConsumerOptions,
} from "@fastpix/fifo_list_demo";

export { ChildTool, PostgresServer, RedisServer };

/**
 * Starts `deno task consume` as a child process, logging at info level (tests read its lines).
 * A developer's `POSTGRES_DSN` is never inherited: tests that want a ledger pass their own.
 */
export function spawnConsumer(
  redisUrl: string,
  options: { name: string; args?: string[]; env?: Record<string, string> },
): ChildTool {
  return spawnConsumerProcess(redisUrl, {
    ...options,
    env: { LOG_LEVEL: "info", POSTGRES_DSN: "", ...options.env },
  });
}

/** Options for integration tests that hold servers and child processes. */
export const INTEGRATION = { sanitizeOps: false, sanitizeResources: false } as const;

/** Starts a private redis-server for one test. */
export function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  return RedisServer.start(options);
}

/** A client for assertions (fails fast instead of queueing during outages). */
export function client(url: string): Redis {
  return createRedis(url, { name: "test", failFast: false });
}

/** Polls `check` every 20 ms until it returns true; throws after `timeoutMs` with `what`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Sends `count` payments over `backendIds` with the stream enqueuer; returns them. */
export async function sendPayments(
  redis: Redis,
  count: number,
  options: { stream?: string; backendIds?: string[]; batch?: number } = {},
): Promise<PaymentMessage[]> {
  const backendIds = options.backendIds ?? ["1", "2", "3", "4"];
  const enqueuer = streamEnqueuer(options.stream ?? "pix_payments");
  const all: PaymentMessage[] = [];
  for (let i = 0; i < count; i += options.batch ?? 500) {
    const batch = Array.from(
      { length: Math.min(options.batch ?? 500, count - i) },
      (_, j) => makePayment({ backendId: backendIds[(i + j) % backendIds.length] }),
    );
    await enqueuer.enqueue(redis, batch);
    all.push(...batch);
  }
  return all;
}

/** The exact sum of `payments` as a 2-place decimal string. */
export function sumAmounts(payments: PaymentMessage[]): { cents: bigint; text: string } {
  const cents = payments.reduce((s, p) => s + BigInt(parseAmountCents(p.amount)!), 0n);
  const text = `${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;
  return { cents, text };
}

/** Every confirmation on a response stream, in order. */
export async function confirmationsOf(redis: RedisClient, key: string) {
  const entries = await redis.xrange(key, "-", "+");
  return entries.map(([, fields]) => parseConfirmation(fields));
}

/** How many entries are pending in a group (all consumers). */
export async function pendingCount(redis: RedisClient, stream: string, group = "pix_consumers") {
  const summary = await redis.xpending(stream, group) as [number, ...unknown[]];
  return Number(summary[0]);
}

/**
 * A loopback TCP proxy in front of a server. `blackhole()` makes every connection open so far go
 * silent (bytes dropped both ways, sockets left open): the failure a watchdog must notice.
 * Connections made afterwards are forwarded normally.
 */
export class SilentableProxy {
  #listener: Deno.Listener;
  #live = new Set<{ silent: boolean }>();
  #conns: Deno.Conn[] = [];

  constructor(targetPort: number) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    (async () => {
      for await (const client of listener) {
        const state = { silent: false };
        this.#live.add(state);
        Deno.connect({ hostname: "127.0.0.1", port: targetPort }).then((server) => {
          this.#conns.push(client, server);
          const pump = async (from: Deno.Conn, to: Deno.Conn) => {
            const buf = new Uint8Array(64 * 1024);
            try {
              for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
                if (!state.silent) await to.write(buf.subarray(0, n));
              }
            } catch { /* closed */ }
          };
          pump(client, server);
          pump(server, client);
        }).catch(() => client.close());
      }
    })().catch(() => {});
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** Every connection open now stops passing bytes, without closing. */
  blackhole(): void {
    for (const state of this.#live) state.silent = true;
    this.#live.clear();
  }

  close(): void {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
}

/** Starts a private PostgreSQL cluster (initdb in a temp dir, free port) for one test file. */
export function startPostgres(): Promise<PostgresServer> {
  return PostgresServer.start();
}

/** Options of an in-process consumer for tests: short block and idle times, `overrides` last. */
export function consumerOptions(
  url: string,
  overrides: Partial<StreamConsumerOptions> = {},
): StreamConsumerOptions {
  return {
    ...CONSUMER_DEFAULTS,
    redisUrl: url,
    stream: "pix_payments",
    group: "pix_consumers",
    consumerName: "test_consumer",
    responsePrefix: "backend_bacen_response_",
    blockMs: 50,
    ...overrides,
  };
}

/** Options of an in-process list consumer (either design) for tests: short blocks, batches of 200. */
export function listConsumerOptions(
  url: string,
  name: string,
  overrides: Partial<ListConsumerOptions> = {},
): ListConsumerOptions {
  return {
    ...LIST_CONSUMER_DEFAULTS,
    redisUrl: url,
    consumerName: name,
    responsePrefix: "backend_bacen_response_",
    blockMs: 50,
    batchSize: 200,
    ...overrides,
  };
}

/** Runs an in-process consumer (any design) until `done` holds, then stops it gracefully. */
export async function consumeUntil<T>(
  consumer: { run(): Promise<T>; stop(): void },
  done: () => Promise<boolean>,
): Promise<T> {
  const running = consumer.run();
  try {
    await waitFor("the consumer to finish", done);
  } finally {
    consumer.stop();
  }
  return await running;
}

/** XADDs one raw message (any fields, valid or not) onto `stream`; resolves to its id. */
export async function addRaw(
  redis: Redis,
  fields: Record<string, string>,
  stream = "pix_payments",
): Promise<string> {
  return (await redis.xadd(stream, "*", ...Object.entries(fields).flat()))!;
}

/**
 * Starts the consumer command of `design` as a child process (info logs, no ledger), as
 * `CONSUMER_NAME=name`.
 */
export function spawnDesign(
  design: DesignName,
  redisUrl: string,
  options: { name: string; args?: string[]; env?: Record<string, string> },
): ChildTool {
  return new ChildTool(DESIGNS[design].consumerScript, {
    args: options.args,
    env: {
      LOG_LEVEL: "info",
      POSTGRES_DSN: "",
      REDIS_URL: redisUrl,
      CONSUMER_NAME: options.name,
      ...options.env,
    },
  });
}

/** Sends `count` payments the way `design` takes them (stream, or `source_list_0`). */
export async function enqueueFor(
  design: DesignName,
  redis: Redis,
  count: number,
): Promise<PaymentMessage[]> {
  if (DESIGNS[design].usesStream) return await sendPayments(redis, count);
  const enqueuer = enqueuerFor(design, { stream: "pix_payments" });
  const all: PaymentMessage[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from(
      { length: Math.min(500, count - i) },
      (_, j) => makePayment({ backendId: ["1", "2", "3", "4"][(i + j) % 4] }),
    );
    await enqueuer.enqueue(redis, batch);
    all.push(...batch);
  }
  return all;
}

/** Payments consumer `name` of `design` holds now (pending entries, or its processing list). */
export async function heldBy(design: DesignName, redis: Redis, name: string): Promise<number> {
  if (design === "list") return 0; // popped payloads live only in the consumer's memory
  if (design === "list-reliable") return await redis.llen(listProcessingKey(name));
  try {
    const rows = await redis.xpending("pix_payments", "pix_consumers", "-", "+", 10_000, name);
    return (rows as unknown[]).length;
  } catch (error) {
    if (String(error).includes("NOGROUP")) return 0; // no consumer has created the group yet
    throw error;
  }
}

/** The counts of a consumer's final `stopped: read 10, confirmed 9, ...` line, by name. */
export function finalStats(output: string): Record<string, number> {
  const line = /stopped: (.*)/.exec(output)?.[1];
  if (line === undefined) throw new Error(`no "stopped:" line in:\n${output}`);
  return Object.fromEntries([...line.matchAll(/([a-z-]+) (\d+)/g)].map((m) => [m[1], +m[2]]));
}

/**
 * Waits for `child` to exit, SIGKILLing it after `limitMs`; resolves to its exit code, output,
 * non-empty output lines and how long it took from the call.
 */
export async function exitWithin(child: ChildTool, limitMs = 15_000) {
  const started = performance.now();
  const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const { code, output } = await child.finished();
  clearTimeout(killer);
  const lines = output.split("\n").filter((l) => l.trim() !== "");
  return { code, output, lines, ms: Math.round(performance.now() - started) };
}

/** A logger that keeps its lines (`"<level>: <message>"`) for assertions; debug lines are dropped. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, debug: () => {}, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

/** The dead letters of `stream` (default `pix_payments`), oldest first, each with its id. */
export async function deadLetters(
  redis: Redis,
  stream = "pix_payments",
): Promise<Record<string, string>[]> {
  return (await redis.xrange(dlqKey(stream), "-", "+")).map(([id, f]) =>
    ({ ...fieldsToRecord(f), id }) as Record<string, string>
  );
}

/** Options of an in-process basic consumer for tests (consumer `basic`), `overrides` last. */
export function basicOptions(
  url: string,
  overrides: Partial<BasicConsumerOptions> = {},
): BasicConsumerOptions {
  return {
    redisUrl: url,
    stream: "pix_payments",
    group: "pix_consumers",
    consumerName: "basic",
    idleThresholdMs: 5000,
    blockMs: 50,
    ...overrides,
  };
}

/** What `buildListBatch` needs for consumer `c1` of `source_list_0` (reliable: its processing list). */
export function listBatchContext(mode: "plain" | "reliable"): ListBatchContext {
  return {
    mode,
    source: "source_list_0",
    processingKey: listProcessingKey("c1"),
    consumerName: "c1",
    responsePrefix: "backend_bacen_response_",
    responseMaxlen: 1000,
    markTtlSeconds: 60,
    limits: DEFAULT_LIMITS,
  };
}

/**
 * Creates the group (at the stream's end), adds `payments`, reads them as consumer `c1` and lays
 * out their `process_batch` call with {@link consumerOptions} of `url`.
 */
export async function pendingStreamBatch(
  redis: Redis,
  url: string,
  payments: readonly PaymentMessage[],
): Promise<Batch> {
  await redis.xgroup("CREATE", "pix_payments", "pix_consumers", "$", "MKSTREAM");
  for (const p of payments) await addRaw(redis, { ...p });
  const reply = await redis.xreadgroup(
    "GROUP",
    "pix_consumers",
    "c1",
    "STREAMS",
    "pix_payments",
    ">",
  ) as [string, RawEntry[]][];
  return buildBatch(reply[0][1], consumerOptions(url));
}
