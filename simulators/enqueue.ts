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
