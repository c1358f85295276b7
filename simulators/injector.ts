/**
 * High-volume injection: `numRequests` payments in batches (`batchSize`, one round trip each) over
 * `numThreads` connections, at full speed or at an open-model arrival `rate`, optionally waiting
 * for every confirmation and measuring end-to-end latency in an HDR histogram.
 * @module
 */
import {
  createClient,
  createLatencyHistogram,
  type LatencySummary,
  type Logger,
  recordMs,
  type RedisClient,
  responseKeysOf,
  sleep,
  type StreamLayout,
  summarize,
} from "@fastpix/infra";
import { formatCents, parseAmountCents, type PaymentMessage } from "@fastpix/pix";
import { ConfirmationWatcher } from "@fastpix/queue";
import type { Enqueuer } from "@fastpix/queue";
import { makePayment } from "./payments.ts";

/** Settings of one injection run. */
export interface InjectOptions {
  redisUrl: string;
  /** `REDIS_CLUSTER` seed nodes: when set, a Redis Cluster instead of `redisUrl`. */
  redisCluster?: readonly string[];
  enqueuer: Enqueuer;
  /** The partition layout the enqueuer writes to: which confirmation streams to watch. */
  layout?: Pick<StreamLayout, "partitions" | "routeBy">;
  numRequests: number;
  /** Payments per round trip (`BATCH_SIZE`). */
  batchSize: number;
  /** Concurrent connections (`NUM_THREADS`). */
  numThreads: number;
  /** Backends to send from, picked at random per payment. */
  backendIds: readonly string[];
  responsePrefix: string;
  /** Open-model arrival rate in payments/s; full speed when omitted. */
  rate?: number;
  /** Wait for every confirmation and measure latency. */
  awaitConfirmations: boolean;
  /** Give up waiting when no confirmation arrived for this long. */
  awaitTimeoutMs: number;
  /** Fixed amount in cents (random when omitted). */
  amountCents?: number;
  /** Called about every 250 ms. */
  onProgress?: (progress: InjectProgress) => void;
  logger?: Logger;
}

/** Where a run stands. */
export interface InjectProgress {
  sent: number;
  answered: number;
  total: number;
  elapsedS: number;
}

/** What a run did and measured. */
export interface InjectReport {
  design: string;
  sent: number;
  confirmed: number;
  duplicates: number;
  rejected: number;
  /** Sent but never answered before the timeout. */
  unanswered: number;
  sentAmount: string;
  confirmedAmount: string;
  durationS: number;
  /** Payments enqueued per second. */
  sendRate: number;
  /** Payments confirmed per second, first send to last confirmation (with await). */
  endToEndRate: number;
  offeredRate: number | null;
  /** Enqueue to confirmation, ms (with await). */
  latency: LatencySummary | null;
}

/** Runs one injection and resolves to its report. */
export async function inject(options: InjectOptions): Promise<InjectReport> {
  const o = options;
  const target = { url: o.redisUrl, cluster: o.redisCluster };
  const connections: RedisClient[] = Array.from(
    { length: o.numThreads },
    (_, i) => createClient(target, { name: `injector_${i}`, logger: o.logger }),
  );
  const histogram = createLatencyHistogram();
  const sentAt = new Map<string, number>();
  let sent = 0, confirmed = 0, duplicates = 0, rejected = 0;
  let sentCents = 0n, confirmedCents = 0n;
  let lastAnswerAt = performance.now();

  const watcher = o.awaitConfirmations
    ? new ConfirmationWatcher(
      target,
      [...new Set(o.backendIds)].flatMap((b) =>
        responseKeysOf(o.layout ?? { partitions: 0, routeBy: "transaction" }, o.responsePrefix, b)
      ),
      o.logger,
    )
    : undefined;
  await watcher?.start((c) => {
    const t0 = sentAt.get(c.transaction_id);
    if (t0 === undefined) return; // someone else's payment
    sentAt.delete(c.transaction_id);
    lastAnswerAt = performance.now();
    recordMs(histogram, lastAnswerAt - t0);
    if (c.status === "confirmed") {
      confirmed++;
      confirmedCents += BigInt(parseAmountCents(c.processed_amount) ?? 0);
    } else if (c.status === "duplicate") duplicates++;
    else rejected++;
  });

  const makeBatch = (count: number, firstIndex: number, start: number): PaymentMessage[] => {
    const batch: PaymentMessage[] = new Array(count);
    const now = performance.now();
    for (let i = 0; i < count; i++) {
      const backendId = o.backendIds[Math.floor(Math.random() * o.backendIds.length)];
      const p = makePayment({ backendId, amountCents: o.amountCents });
      batch[i] = p;
      sentCents += BigInt(parseAmountCents(p.amount)!);
      // Open model: latency counts from the scheduled arrival, so a slow system can't hide it.
      if (watcher) {
        sentAt.set(p.transaction_id, o.rate ? start + (firstIndex + i) * 1000 / o.rate : now);
      }
    }
    return batch;
  };

  const start = performance.now();
  const progressTimer = o.onProgress
    ? setInterval(() =>
      o.onProgress!({
        sent,
        answered: confirmed + duplicates + rejected,
        total: o.numRequests,
        elapsedS: (performance.now() - start) / 1000,
      }), 250)
    : undefined;

  try {
    if (o.rate === undefined) {
      let next = 0;
      await Promise.all(connections.map(async (redis) => {
        while (next < o.numRequests) {
          const count = Math.min(o.batchSize, o.numRequests - next);
          const batch = makeBatch(count, next, start);
          next += count;
          await o.enqueuer.enqueue(redis, batch);
          sent += count;
        }
      }));
    } else {
      const inFlight = new Set<Promise<void>>();
      let scheduled = 0, turn = 0;
      while (scheduled < o.numRequests) {
        const due = Math.min(
          o.numRequests,
          Math.floor((performance.now() - start) * o.rate / 1000),
        );
        while (scheduled < due) {
          const count = Math.min(o.batchSize, due - scheduled);
          const batch = makeBatch(count, scheduled, start);
          scheduled += count;
          const redis = connections[turn++ % connections.length];
          const p = o.enqueuer.enqueue(redis, batch).then(() => {
            sent += count;
            inFlight.delete(p);
          });
          inFlight.add(p);
        }
        await sleep(1);
      }
      await Promise.all(inFlight);
    }
    const sendDone = performance.now();
    if (watcher) {
      lastAnswerAt = Math.max(lastAnswerAt, sendDone);
      while (sentAt.size > 0 && performance.now() - lastAnswerAt < o.awaitTimeoutMs) await sleep(5);
    }
    const end = watcher ? (sentAt.size > 0 ? performance.now() : lastAnswerAt) : sendDone;
    const durationS = (end - start) / 1000;
    return {
      design: o.enqueuer.design,
      sent,
      confirmed,
      duplicates,
      rejected,
      unanswered: watcher ? sentAt.size : 0,
      sentAmount: formatCents(sentCents),
      confirmedAmount: formatCents(confirmedCents),
      durationS,
      sendRate: sent / ((sendDone - start) / 1000),
      endToEndRate: watcher ? confirmed / durationS : 0,
      offeredRate: o.rate ?? null,
      latency: watcher ? summarize(histogram) : null,
    };
  } finally {
    if (progressTimer !== undefined) clearInterval(progressTimer);
    await watcher?.stop();
    for (const c of connections) c.disconnect();
  }
}
