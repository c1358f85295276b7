/**
 * End-to-end benchmark of the stream design: inject + consume + confirm + ack, measured by the
 * injector waiting for every confirmation. One consumer process (with N loops), a private Redis.
 * @module
 */
import { type MachineInfo, machineInfo } from "./machine.ts";
import { ChildTool, PostgresServer, RedisServer, spawnConsumer } from "@fastpix/testing";
import { createRedis, type LatencySummary, pingWithin, redactUrl, sleep } from "@fastpix/infra";
import { inject, makePayment, RANDOM_BACKEND_IDS } from "@fastpix/simulators";
import { streamEnqueuer } from "@fastpix/queue";
import { formatCount } from "@fastpix/pix";

/** Settings of a benchmark run. */
export interface BenchOptions {
  /** Use this Redis instead of starting a private one (its data is flushed only if private). */
  redisUrl?: string;
  /** Turn the PostgreSQL ledger on (a private PostgreSQL, migrated, handed to the consumer). */
  ledger?: boolean;
  /** Payments in the max-speed run (and in the backlog the consumer drains first). */
  payments: number;
  /** Payments sent first and not measured. */
  warmup: number;
  /** Offered rate of the latency run, payments/s. */
  rate: number;
  /** Length of the latency run, s. */
  durationS: number;
  /** Consumer loops in the one consumer process. */
  consumerLoops: number;
  consumerBatchSize: number;
  injectBatchSize: number;
  injectThreads: number;
  /** Batch size of the latency run (payments per enqueue at the offered rate). */
  latencyBatchSize: number;
}

/** One measured run. */
export interface BenchRun {
  name: string;
  payments: number;
  offeredRate: number | null;
  sendRate: number;
  endToEndRate: number;
  /** Absent for the backlog drain (no per-payment timing there). */
  latency: LatencySummary | null;
  unanswered: number;
  duplicates: number;
  rejected: number;
}

/** What `deno task bench` prints and writes. */
export interface BenchResult {
  at: string;
  machine: MachineInfo & { redis: string };
  options: BenchOptions;
  runs: BenchRun[];
}

/** Runs the benchmark and resolves to its result. */
export async function runBench(o: BenchOptions, onLine: (s: string) => void): Promise<BenchResult> {
  let server: RedisServer | undefined;
  let url = o.redisUrl;
  if (url === undefined || !(await pingWithin(url, 1000))) {
    server = await RedisServer.start();
    url = server.url;
  }
  let consumer: ChildTool | undefined;
  let postgres: PostgresServer | undefined;
  const redis = createRedis(url, { name: "bench" });
  try {
    // Backlog drain: the consumer alone, with no injector competing for the CPU.
    onLine(
      `backlog drain: enqueueing ${formatCount(o.payments)} payments with no consumer running`,
    );
    const enqueuer = streamEnqueuer("pix_payments");
    for (let i = 0; i < o.payments; i += o.injectBatchSize) {
      const n = Math.min(o.injectBatchSize, o.payments - i);
      await enqueuer.enqueue(
        redis,
        Array.from({ length: n }, (_, j) => makePayment({ backendId: RANDOM_BACKEND_IDS[j % 4] })),
      );
    }
    const before = Number(await redis.get("processed_count") ?? 0);
    let postgresDsn = "";
    if (o.ledger) {
      postgres = await PostgresServer.start();
      postgresDsn = await postgres.createDatabase("fastpix_bench");
      const migrate = new ChildTool("consumer/migrate_command.ts", {
        env: { POSTGRES_DSN: postgresDsn },
      });
      const migrated = await migrate.finished();
      if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.output}`);
      onLine(`ledger on: private PostgreSQL at ${postgresDsn}`);
    }
    consumer = spawnConsumer(url, {
      name: "bench_consumer",
      args: ["--concurrency", String(o.consumerLoops), "--batch-size", String(o.consumerBatchSize)],
      env: { LOG_LEVEL: "warn", POSTGRES_DSN: postgresDsn },
      echo: true,
    });
    const common = {
      redisUrl: url,
      enqueuer: streamEnqueuer("pix_payments"),
      backendIds: RANDOM_BACKEND_IDS,
      responsePrefix: "backend_bacen_response_",
      awaitConfirmations: true,
      awaitTimeoutMs: 30_000,
    };
    const runs: BenchRun[] = [];
    // The clock starts at the first processed payment: the consumer's start-up is not drain time.
    const processed = async () => Number(await redis.get("processed_count") ?? 0) - before;
    while (await processed() === 0) await sleep(1);
    const drainStart = performance.now();
    while (await processed() < o.payments) await sleep(10);
    const drainRate = Math.round(o.payments / ((performance.now() - drainStart) / 1000));
    runs.push({
      name: "backlog drain",
      payments: o.payments,
      offeredRate: null,
      sendRate: 0,
      endToEndRate: drainRate,
      latency: null,
      unanswered: 0,
      duplicates: 0,
      rejected: 0,
    });
    const measure = async (
      name: string,
      extra: Parameters<typeof inject>[0] extends infer T ? Partial<T> : never,
    ) => {
      const r = await inject({ ...common, numRequests: 0, batchSize: 1, numThreads: 1, ...extra });
      const run: BenchRun = {
        name,
        payments: r.sent,
        offeredRate: r.offeredRate,
        sendRate: Math.round(r.sendRate),
        endToEndRate: Math.round(r.endToEndRate),
        latency: r.latency,
        unanswered: r.unanswered,
        duplicates: r.duplicates,
        rejected: r.rejected,
      };
      return run;
    };
    onLine(`warm-up: ${formatCount(o.warmup)} payments (not measured)`);
    await measure("warm-up", {
      numRequests: o.warmup,
      batchSize: o.injectBatchSize,
      numThreads: o.injectThreads,
    });
    onLine(
      `max speed: ${formatCount(o.payments)} payments, ${o.injectThreads} connections x ${
        formatCount(o.injectBatchSize)
      } per batch`,
    );
    runs.push(
      await measure("max speed", {
        numRequests: o.payments,
        batchSize: o.injectBatchSize,
        numThreads: o.injectThreads,
      }),
    );
    onLine(`fixed rate: ${formatCount(o.rate)}/s for ${formatCount(o.durationS)} s`);
    runs.push(
      await measure(`${o.rate}/s offered`, {
        numRequests: o.rate * o.durationS,
        rate: o.rate,
        batchSize: o.latencyBatchSize,
        numThreads: 2,
      }),
    );
    return {
      at: new Date().toISOString(),
      machine: {
        ...await machineInfo(),
        redis: /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "?",
      },
      // Result files are shared: never the password.
      options: { ...o, redisUrl: o.redisUrl === undefined ? undefined : redactUrl(o.redisUrl) },
      runs,
    };
  } finally {
    redis.disconnect();
    consumer?.kill("SIGTERM");
    await consumer?.finished();
    await server?.stop();
    await postgres?.stop();
  }
}
