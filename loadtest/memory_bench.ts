/**
 * `deno task bench --memory`: the bytes Redis keeps per payment once the stream design has
 * processed it, part by part: the idempotency marks, the confirmation streams, the payment stream
 * and, with `--ledger`, the ledger's outbox while PostgreSQL is away. Measured on a private
 * redis-server (its allocator decides the sizes) after one consumer has processed every payment:
 * each part is the `used_memory` (`INFO memory`) given back by deleting its keys, with
 * `MEMORY USAGE ... SAMPLES 0` beside it.
 * @module
 */
import { RedisServer } from "@fastpix/testing";
import { createRedis, type Redis, sleep } from "@fastpix/infra";
import { makePayment, RANDOM_BACKEND_IDS } from "@fastpix/simulators";
import { streamEnqueuer } from "@fastpix/queue";
import {
  CONSUMER_DEFAULTS,
  outboxHooks,
  StreamConsumer,
  type StreamConsumerOptions,
} from "@fastpix/consumer";
import {
  DONE_MARK_PREFIX,
  formatCount,
  formatNumber,
  ledgerBacklogKey,
  ledgerOutboxKey,
  parseMark,
  responseStreamKey,
} from "@fastpix/pix";

/** Settings of a memory run. */
export interface MemoryBenchOptions {
  /** Payments enqueued and processed. */
  payments: number;
  /** Keep the ledger's outbox rows (no PostgreSQL: what piles up while it is away). */
  ledger: boolean;
  /** Payments per enqueue. */
  injectBatchSize: number;
  /** Entries per XREADGROUP. */
  consumerBatchSize: number;
}

/** One part of what Redis keeps. */
export interface MemoryPart {
  part: string;
  /** Keys it takes. */
  keys: number;
  /** Bytes `used_memory` gave back when its keys were deleted. */
  bytes: number;
  /** `bytes` / payments. */
  perPayment: number;
  /** What `MEMORY USAGE ... SAMPLES 0` says of its keys, per payment (an estimate of its own). */
  memoryUsagePerPayment: number;
}

/** What `deno task bench --memory` prints and writes. */
export interface MemoryBenchResult {
  at: string;
  redis: { version: string; allocator: string };
  options: MemoryBenchOptions;
  parts: MemoryPart[];
  /** `used_memory` after processing minus before enqueueing, per payment: every part together. */
  totalPerPayment: number;
  marks: {
    /** A mark's value as written now (`<fingerprint>:<stream id>`). */
    example: string;
    /** `MEMORY USAGE` of one mark (the key's own allocations, without the keyspace's tables). */
    memoryUsage: number;
    /** Bytes per mark as written now. */
    perMark: number;
    /** Bytes per mark with the values as written before fingerprints (the stream id alone). */
    idOnlyPerMark: number;
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0") ?? 0);
}

/** Every key matching `pattern`, by SCAN. */
async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, page] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 10_000);
    keys.push(...page);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

/** `used_memory` once it has stopped moving (lazy frees, client buffers, table resizes). */
async function settledMemory(redis: Redis): Promise<number> {
  let last = await usedMemory(redis);
  for (let i = 0; i < 20; i++) {
    await sleep(150);
    const now = await usedMemory(redis);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Rewrites every mark's value with `value(old)`, keeping its TTL; resolves to the old values. */
async function rewriteMarks(
  redis: Redis,
  keys: readonly string[],
  value: (old: string, i: number) => string,
): Promise<string[]> {
  const old: string[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const values = await redis.mget(...chunk);
    const pipeline = redis.pipeline();
    chunk.forEach((key, j) => {
      old.push(values[j] ?? "");
      pipeline.set(key, value(values[j] ?? "", i + j), "KEEPTTL");
    });
    await pipeline.exec();
  }
  return old;
}

/** Runs the measurement on a private redis-server; `onLine` gets progress lines. */
export async function runMemoryBench(
  o: MemoryBenchOptions,
  onLine: (s: string) => void,
): Promise<MemoryBenchResult> {
  const server = await RedisServer.start();
  const redis = createRedis(server.url, { name: "bench-memory" });
  try {
    const n = o.payments;
    const stream = "pix_payments";
    // Counters exist before the baseline: they are the same few bytes whatever the load.
    await redis.set("processed_count", "0");
    await redis.set("total_amount_cents", "0");
    await redis.set("total_amount", "0.00");
    const base = await settledMemory(redis);
    onLine(`enqueueing ${n} payments over backends ${RANDOM_BACKEND_IDS.join(", ")}`);
    const enqueuer = streamEnqueuer(stream);
    for (let i = 0; i < n; i += o.injectBatchSize) {
      const count = Math.min(o.injectBatchSize, n - i);
      await enqueuer.enqueue(
        redis,
        Array.from(
          { length: count },
          (_, j) => makePayment({ backendId: RANDOM_BACKEND_IDS[(i + j) % 4] }),
        ),
      );
    }
    onLine(
      `enqueued: used_memory +${round((await settledMemory(redis) - base) / n)} B per payment`,
    );

    onLine(`processing them with one stream consumer${o.ledger ? " (ledger outbox kept)" : ""}`);
    const options: StreamConsumerOptions = {
      ...CONSUMER_DEFAULTS,
      redisUrl: server.url,
      stream,
      group: "pix_consumers",
      consumerName: "bench_memory",
      responsePrefix: "backend_bacen_response_",
      batchSize: o.consumerBatchSize,
      blockMs: 100,
      // Nothing trimmed: the stream keeps what it would keep up to STREAM_MAXLEN.
      streamMaxlen: Math.max(CONSUMER_DEFAULTS.streamMaxlen, n + 1),
      responseMaxlen: Math.max(CONSUMER_DEFAULTS.responseMaxlen, n + 1),
      hooks: o.ledger
        ? outboxHooks({ maxBacklog: Number.MAX_SAFE_INTEGER, logger: quiet })
        : undefined,
      logger: quiet,
    };
    const consumer = new StreamConsumer(options);
    const running = consumer.run();
    try {
      while (Number(await redis.get("processed_count")) < n) await sleep(50);
    } finally {
      consumer.stop();
      await running;
    }
    await redis.del("pix:latency"); // the consumer's latency summary, not per payment
    const processed = await settledMemory(redis);

    // Each part: the used_memory it gives back when deleted (keys, values, TTLs, the keyspace's
    // tables as they shrink), with MEMORY USAGE beside it as a second opinion.
    const parts: MemoryPart[] = [];
    const measure = async (name: string, keys: string[], sample = keys) => {
      let usage = 0;
      for (const key of sample) usage += await memoryUsage(redis, key);
      usage *= keys.length / sample.length;
      const before = await settledMemory(redis);
      for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
      const bytes = before - await settledMemory(redis);
      parts.push({
        part: name,
        keys: keys.length,
        bytes,
        perPayment: round(bytes / n),
        memoryUsagePerPayment: round(usage / n),
      });
    };
    const marks = await scanKeys(redis, `${DONE_MARK_PREFIX}*`);
    const example = (await redis.get(marks[0])) ?? "";
    const markUsage = await memoryUsage(redis, marks[0]);
    // The same marks with their values as written before fingerprints (the stream id alone).
    const now = await settledMemory(redis);
    const values = await rewriteMarks(redis, marks, (value) => parseMark(value).origin);
    const idOnlyChange = await settledMemory(redis) - now;
    await rewriteMarks(redis, marks, (_, i) => values[i]);
    // MEMORY USAGE of a sample of marks (each is one short string: the sample stands for all).
    await measure("idempotency marks", marks, marks.slice(0, 1000));
    if (o.ledger) {
      await measure("ledger outbox", [ledgerOutboxKey(stream), ledgerBacklogKey(stream)]);
    }
    await measure(
      "confirmations",
      RANDOM_BACKEND_IDS.map((b) => responseStreamKey("backend_bacen_response_", b)),
    );
    await measure("payment stream", [stream]);
    const rest = processed - base - parts.reduce((sum, p) => sum + p.bytes, 0);
    parts.push({
      part: "other (script cache, consumer group, ...)",
      keys: 0,
      bytes: rest,
      perPayment: round(rest / n),
      memoryUsagePerPayment: 0,
    });
    const perMark = parts[0].bytes / marks.length;
    return {
      at: new Date().toISOString(),
      redis: {
        version: /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "?",
        allocator: /mem_allocator:(\S+)/.exec(await redis.info("memory"))?.[1] ?? "?",
      },
      options: o,
      parts,
      totalPerPayment: round((processed - base) / n),
      marks: {
        example,
        memoryUsage: markUsage,
        perMark: round(perMark),
        idOnlyPerMark: round(perMark + idOnlyChange / marks.length),
      },
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The arithmetic an operator needs: live marks and their bytes for a daily volume. */
export function markArithmetic(perMark: number, paymentsPerDay: number, ttlDays: number): string {
  const live = paymentsPerDay * ttlDays;
  const gib = (live * perMark) / 2 ** 30;
  return `${formatCount(paymentsPerDay)} payments/day x ${ttlDays} days (MARK_TTL) = ` +
    `${formatCount(live)} live marks x ${perMark} B = ${formatNumber(gib, 2)} GiB`;
}
