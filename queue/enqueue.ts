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
  /**
   * Resolves once Redis has the batch: to the ids of the stream entries added, in the order of
   * `batch`, for a design with entry ids (the stream design), else to nothing.
   */
  enqueue(redis: RedisClient, batch: readonly PaymentMessage[]): Promise<readonly string[] | void>;
}

const enqueueBatchScript = LuaScript.fromFile(
  "enqueue_batch",
  "./lua/enqueue_batch.lua",
  import.meta.url,
);

const hasCoreFields = (p: PaymentMessage) =>
  p.transaction_id !== undefined && p.backend_id !== undefined && p.amount !== undefined &&
  p.timestamp !== undefined;

/** One `enqueue_batch` call: its arguments, and the positions in the batch of its payments. */
interface LayoutCall {
  args: string[];
  positions: number[];
}

/**
 * The `enqueue_batch` calls for `batch`, one per field layout: payments with only the four core
 * fields share one (in the canonical field order); optional fields (`payee_key`, ...) are kept,
 * payments with the same fields in the same order sharing a call.
 */
function scriptArgsByLayout(batch: readonly PaymentMessage[]): LayoutCall[] {
  const core: LayoutCall = {
    args: [String(PAYMENT_FIELDS.length), ...PAYMENT_FIELDS],
    positions: [],
  };
  const layouts = new Map<string, LayoutCall>([["", core]]);
  batch.forEach((p, position) => {
    if (Object.keys(p).length === PAYMENT_FIELDS.length && hasCoreFields(p)) {
      core.args.push(p.transaction_id, p.backend_id, p.amount, p.timestamp);
      core.positions.push(position);
      return;
    }
    const names = Object.keys(p).filter((k) => p[k as keyof PaymentMessage] !== undefined);
    const layout = names.join(",");
    let call = layouts.get(layout);
    if (call === undefined) {
      layouts.set(layout, call = { args: [String(names.length), ...names], positions: [] });
    }
    for (const name of names) call.args.push(p[name as keyof PaymentMessage]!);
    call.positions.push(position);
  });
  return [...layouts.values()].filter((call) => call.positions.length > 0);
}

/** The entry ids an `enqueue_batch` reply lists (`count` of them). */
function entryIds(reply: unknown, count: number): string[] {
  if (!Array.isArray(reply) || reply.length !== count) {
    throw new Error(`enqueue_batch answered ${JSON.stringify(reply)}, not ${count} entry ids`);
  }
  return reply.map(String);
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
  /** Runs one call; resolves to the ids of its entries, in order. */
  const call = async (redis: RedisClient, key: string, args: string[]): Promise<string[]> => {
    const count = (args.length - 1 - Number(args[0])) / Number(args[0]);
    if (!options.waitReplicas) {
      return entryIds(await enqueueBatchScript.run(redis, [key], args), count);
    }
    const wait = { replicas: options.waitReplicas, timeoutMs: options.waitTimeoutMs ?? 1000 };
    const { reply, replicas } = await enqueueBatchScript.runAndWait(redis, [key], args, wait);
    if (replicas < wait.replicas) {
      throw new Error(
        `Only ${replicas} of ${wait.replicas} replicas acknowledged ${count} payments on ${key} within ${wait.timeoutMs} ms`,
      );
    }
    return entryIds(reply, count);
  };
  /** XADDs `batch` onto `key`; resolves to the entry ids, in the order of `batch`. */
  const send = async (redis: RedisClient, key: string, batch: readonly PaymentMessage[]) => {
    const ids: string[] = new Array(batch.length);
    await Promise.all(
      scriptArgsByLayout(batch).map(async ({ args, positions }) => {
        const added = await call(redis, key, args);
        positions.forEach((position, i) => ids[position] = added[i]);
      }),
    );
    return ids;
  };
  return {
    design: "stream",
    async enqueue(redis, batch) {
      if (partitions === 0) return await send(redis, stream, batch);
      const groups: { payments: PaymentMessage[]; positions: number[] }[] = streams.map(
        () => ({ payments: [], positions: [] }),
      );
      batch.forEach((p, position) => {
        const group = groups[partitionOf(layout, p)];
        group.payments.push(p);
        group.positions.push(position);
      });
      const ids: string[] = new Array(batch.length);
      await Promise.all(groups.map(async ({ payments, positions }, i) => {
        if (payments.length === 0) return;
        const added = await send(redis, streams[i], payments);
        positions.forEach((position, j) => ids[position] = added[j]);
      }));
      return ids;
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
