/**
 * How payments get into a queue design. The stream design XADDs them (in bulk through a Lua
 * script: one round trip per batch); other designs add their own {@link Enqueuer}.
 * @module
 */
import { LuaScript, type PaymentMessage, type Redis, toStreamFields } from "@fastpix/pix";
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

/** XADDs each payment with all its fields, in one pipeline (one round trip). */
async function xaddPipelined(redis: Redis, stream: string, batch: readonly PaymentMessage[]) {
  const pipeline = redis.pipeline();
  for (const p of batch) pipeline.xadd(stream, "*", ...toStreamFields(p));
  for (const [error] of await pipeline.exec() ?? []) if (error) throw error;
}

/**
 * XADDs payments onto `stream`. Payments with only the four core fields go in one Lua call; a
 * batch where some carry optional fields (`payee_key`, ...) is XADDed in one pipeline instead.
 */
export function streamEnqueuer(stream: string): Enqueuer {
  return {
    design: "stream",
    async enqueue(redis, batch) {
      if (batch.some((p) => Object.keys(p).length !== PAYMENT_FIELDS.length)) {
        return await xaddPipelined(redis, stream, batch);
      }
      const args: string[] = [String(PAYMENT_FIELDS.length), ...PAYMENT_FIELDS];
      for (const p of batch) args.push(p.transaction_id, p.backend_id, p.amount, p.timestamp);
      await enqueueBatchScript.run(redis, [stream], args);
    },
  };
}
