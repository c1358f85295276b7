/**
 * `deno task bench --cluster`: the stream design on one Redis, then on a private 3-master Redis
 * Cluster with 1 and with 3 partitions (one consumer process per partition). Per layout: the
 * backlog drain (consumers alone) and the end-to-end rate at max speed (injector waiting for every
 * confirmation). Everything runs on this machine, so shards and consumers share its cores.
 * @module
 */
import keySlot from "cluster-key-slot";
import {
  type ChildTool,
  nodeCommand,
  RedisCluster,
  RedisServer,
  spawnConsumer,
} from "@fastpix/testing";
import { createClient, layoutKeys, readTotals, type RedisTarget, sleep } from "@fastpix/infra";
import { inject, makePayment, RANDOM_BACKEND_IDS } from "@fastpix/simulators";
import { streamEnqueuer } from "@fastpix/queue";
import { formatCount } from "@fastpix/pix";

/** Settings of a cluster benchmark. */
export interface ClusterBenchOptions {
  /** Payments in each backlog and each max-speed run. */
  payments: number;
  /** Loops in each consumer process. */
  consumerLoops: number;
  consumerBatchSize: number;
  injectBatchSize: number;
  injectThreads: number;
}

/** One layout's figures. */
export interface ClusterBenchRow {
  layout: string;
  partitions: number;
  /** Masters holding at least one partition. */
  shards: number;
  consumerProcesses: number;
  /** Payments/s the consumers alone drained from a backlog. */
  drainRate: number;
  /** Payments/s confirmed with the injector running at full speed. */
  endToEndRate: number;
  unanswered: number;
}

async function measureLayout(
  target: RedisTarget,
  partitions: number,
  o: ClusterBenchOptions,
  onLine: (s: string) => void,
): Promise<Omit<ClusterBenchRow, "layout" | "shards">> {
  const redis = createClient(target, { name: "bench" });
  const layout = { stream: "pix_payments", partitions };
  const enqueuer = streamEnqueuer("pix_payments", { partitions });
  const consumers: ChildTool[] = [];
  try {
    onLine(
      `  backlog: ${formatCount(o.payments)} payments, then ${
        Math.max(1, partitions)
      } consumer process(es)`,
    );
    for (let i = 0; i < o.payments; i += o.injectBatchSize) {
      const n = Math.min(o.injectBatchSize, o.payments - i);
      await enqueuer.enqueue(
        redis,
        Array.from({ length: n }, (_, j) => makePayment({ backendId: RANDOM_BACKEND_IDS[j % 4] })),
      );
    }
    const processes = Math.max(1, partitions);
    for (let i = 0; i < processes; i++) {
      const args = [
        "--concurrency",
        String(o.consumerLoops),
        "--batch-size",
        String(o.consumerBatchSize),
      ];
      if (partitions > 0) {
        args.push("--partitions", String(partitions), "--partitions-of", `${i}/${processes}`);
      }
      consumers.push(spawnConsumer(target.url, {
        name: `bench_consumer_${i}`,
        args,
        env: {
          LOG_LEVEL: "warn",
          ...(target.cluster ? { REDIS_CLUSTER: target.cluster.join(",") } : {}),
        },
        echo: true,
      }));
    } // deno-fmt-ignore
    // The clock starts at the first confirmed payment, so process start-up is not counted.
    let start = 0, first = 0, done = 0;
    while (done < o.payments) {
      await sleep(10);
      done = (await readTotals(redis, layout)).processedCount;
      if (start === 0 && done > 0) [start, first] = [performance.now(), done];
    }
    const drainRate = Math.round((o.payments - first) / ((performance.now() - start) / 1000));
    onLine(`  max speed: ${formatCount(o.payments)} payments with the consumers running`);
    const r = await inject({
      redisUrl: target.url,
      redisCluster: target.cluster,
      enqueuer,
      layout: { partitions, routeBy: "transaction" },
      numRequests: o.payments,
      batchSize: o.injectBatchSize,
      numThreads: o.injectThreads,
      backendIds: RANDOM_BACKEND_IDS,
      responsePrefix: "backend_bacen_response_",
      awaitConfirmations: true,
      awaitTimeoutMs: 30_000,
    });
    return {
      partitions,
      consumerProcesses: processes,
      drainRate,
      endToEndRate: Math.round(r.endToEndRate),
      unanswered: r.unanswered,
    };
  } finally {
    redis.disconnect();
    for (const c of consumers) c.kill("SIGTERM");
    for (const c of consumers) await c.finished();
  }
}

/** Runs the three layouts and resolves to their rows. */
export async function runClusterBench(
  o: ClusterBenchOptions,
  onLine: (s: string) => void,
): Promise<ClusterBenchRow[]> {
  const rows: ClusterBenchRow[] = [];
  onLine("single Redis, one stream");
  {
    await using server = await RedisServer.start();
    const row = await measureLayout({ url: server.url }, 0, o, onLine);
    rows.push({ layout: "single node", shards: 1, ...row });
  }
  onLine("starting a 3-master Redis Cluster");
  await using cluster = await RedisCluster.start({ masters: 3 });
  const target = { url: "redis://unused:1", cluster: cluster.seeds };
  for (const partitions of [1, 3]) {
    for (const port of cluster.ports) await nodeCommand(port, "FLUSHALL");
    onLine(`cluster, ${partitions} partition(s)`);
    const row = await measureLayout(target, partitions, o, onLine);
    const masters = await Promise.all(
      layoutKeys({ stream: "pix_payments", partitions }).map((k) =>
        cluster.masterOf(keySlot(k.stream))
      ),
    );
    rows.push({ layout: "3-master cluster", shards: new Set(masters).size, ...row });
  }
  return rows;
}
