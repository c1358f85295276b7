/**
 * How payments get into a queue design. The stream design XADDs them (in bulk through a Lua
 * script: one round trip per batch); other designs add their own {@link Enqueuer}.
 * @module
 */
import { LuaScript, type PaymentMessage, type Redis } from "@fastpix/pix";
import { PAYMENT_FIELDS } from "./payments.ts";

/** Puts a batch of payments into a queue. */
export interface Enqueuer {
  /** A short name for reports (`stream`, `list`, ...). */
  readonly design: string;
  enqueue(redis: Redis, batch: readonly PaymentMessage[]): Promise<void>;
}

const enqueueBatchScript = LuaScript.fromFile(
  "enqueue_batch",
  "./lua/enqueue_batch.lua",
  import.meta.url,
);

/** XADDs payments onto `stream`. */
export function streamEnqueuer(stream: string): Enqueuer {
  return {
    design: "stream",
    async enqueue(redis, batch) {
      const args: string[] = [String(PAYMENT_FIELDS.length), ...PAYMENT_FIELDS];
      for (const p of batch) args.push(p.transaction_id, p.backend_id, p.amount, p.timestamp);
      await enqueueBatchScript.run(redis, [stream], args);
    },
  };
}

/** The queue designs fastpix compares, by the names `--design` takes. */
export const QUEUE_DESIGNS = ["stream", "basic", "list", "list-reliable"] as const;

/** One of {@link QUEUE_DESIGNS}. */
export type QueueDesign = typeof QUEUE_DESIGNS[number];

/** XADDs payments onto `stream` for the basic stream consumer (the same entries as `stream`). */
export function basicEnqueuer(stream: string): Enqueuer {
  return { ...streamEnqueuer(stream), design: "basic" };
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

/** Where {@link enqueuerFor} puts payments. */
export interface EnqueueTarget {
  /** Payment stream of the stream designs. */
  stream: string;
  /** Lists of the list designs (`source_list_<i>`). */
  lists: readonly string[];
}

/** The enqueuer that feeds `design`. */
export function enqueuerFor(design: QueueDesign, target: EnqueueTarget): Enqueuer {
  switch (design) {
    case "stream":
      return streamEnqueuer(target.stream);
    case "basic":
      return basicEnqueuer(target.stream);
    case "list":
    case "list-reliable":
      return listEnqueuer(target.lists, design);
  }
}
