/**
 * How payments get into a queue design. The stream design XADDs them (in bulk through a Lua
 * script: one round trip per batch, or per partition with `PARTITIONS`); other designs add their
 * own {@link Enqueuer}.
 * @module
 */
import {
  LuaScript,
  partitionOf,
  partitionTags,
  type RedisClient,
  type RouteBy,
} from "@fastpix/infra";
import { type PaymentMessage, streamKeys } from "@fastpix/pix";
import { PAYMENT_FIELDS } from "@fastpix/pix";

/** Puts a batch of payments into a queue. */
export interface Enqueuer {
  /** A short name for reports (`stream`, `list`, ...). */
  readonly design: string;
  enqueue(redis: RedisClient, batch: readonly PaymentMessage[]): Promise<void>;
}

const enqueueBatchScript = LuaScript.fromFile(
  "enqueue_batch",
  "./lua/enqueue_batch.lua",
  import.meta.url,
);

const hasCoreFields = (p: PaymentMessage) =>
  p.transaction_id !== undefined && p.backend_id !== undefined && p.amount !== undefined &&
  p.timestamp !== undefined;

/**
 * The `enqueue_batch` arguments for `batch`, one list per field layout: payments with only the
 * four core fields share one (in the canonical field order); optional fields (`payee_key`, ...)
 * are kept, payments with the same fields in the same order sharing a call.
 */
function scriptArgsByLayout(batch: readonly PaymentMessage[]): string[][] {
  const core: string[] = [String(PAYMENT_FIELDS.length), ...PAYMENT_FIELDS];
  const layouts = new Map<string, string[]>([["", core]]);
  for (const p of batch) {
    if (Object.keys(p).length === PAYMENT_FIELDS.length && hasCoreFields(p)) {
      core.push(p.transaction_id, p.backend_id, p.amount, p.timestamp);
      continue;
    }
    const names = Object.keys(p).filter((k) => p[k as keyof PaymentMessage] !== undefined);
    const layout = names.join(",");
    let args = layouts.get(layout);
    if (args === undefined) layouts.set(layout, args = [String(names.length), ...names]);
    for (const name of names) args.push(p[name as keyof PaymentMessage]!);
  }
  return [...layouts.values()].filter((args) => args.length > 1 + Number(args[0]));
}

/** Options of {@link streamEnqueuer}. */
export interface StreamEnqueuerOptions {
  /** Partitions of the layout (`PARTITIONS`); 0 or absent: the single stream. */
  partitions?: number;
  /** What picks a payment's partition (default: its transaction id). */
  routeBy?: RouteBy;
  /**
   * After each script call, `WAIT` until this many replicas have the entries (or `waitTimeoutMs`
   * passed); fewer acknowledgements throw, so the caller resends (duplicates are harmless: the
   * consumer's idempotency marks answer them). For durability across a failover.
   */
  waitReplicas?: number;
  waitTimeoutMs?: number;
}

/**
 * XADDs payments onto `stream`, or onto the partition each one routes to, in one Lua call per
 * field layout (optional fields such as `payee_key` are kept).
 */
export function streamEnqueuer(stream: string, options: StreamEnqueuerOptions = {}): Enqueuer {
  const partitions = options.partitions ?? 0;
  const layout = { stream, partitions, routeBy: options.routeBy ?? "transaction" } as const;
  const streams = partitions === 0
    ? [stream]
    : partitionTags(partitions).map((tag) => streamKeys(stream, tag).stream);
  const call = async (redis: RedisClient, key: string, args: string[]) => {
    if (!options.waitReplicas) {
      await enqueueBatchScript.run(redis, [key], args);
      return;
    }
    const wait = { replicas: options.waitReplicas, timeoutMs: options.waitTimeoutMs ?? 1000 };
    const { replicas } = await enqueueBatchScript.runAndWait(redis, [key], args, wait);
    if (replicas < wait.replicas) {
      const count = (args.length - 1 - Number(args[0])) / Number(args[0]);
      throw new Error(
        `Only ${replicas} of ${wait.replicas} replicas acknowledged ${count} payments on ${key} within ${wait.timeoutMs} ms`,
      );
    }
  };
  const send = async (redis: RedisClient, key: string, batch: readonly PaymentMessage[]) => {
    await Promise.all(scriptArgsByLayout(batch).map((args) => call(redis, key, args)));
  };
  return {
    design: "stream",
    async enqueue(redis, batch) {
      if (partitions === 0) return await send(redis, stream, batch);
      const groups: PaymentMessage[][] = streams.map(() => []);
      for (const p of batch) groups[partitionOf(layout, p)].push(p);
      await Promise.all(
        groups.map((group, i) => group.length > 0 ? send(redis, streams[i], group) : undefined),
      );
    },
  };
}

/**
 * LPUSHes payments as JSON onto `lists` (one variadic LPUSH per batch), batch after batch round
 * the lists, for the plain (`list`) or reliable (`list-reliable`) list design.
 */
export function listEnqueuer(
  lists: readonly string[],
  design: "list" | "list-reliable" = "list",
): Enqueuer {
  let turn = 0;
  return {
    design,
    async enqueue(redis, batch) {
      if (batch.length === 0) return;
      const key = lists[turn++ % lists.length];
      await redis.lpush(key, ...batch.map((p) => JSON.stringify(p)));
    },
  };
}
