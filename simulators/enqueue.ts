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

const hasCoreFields = (p: PaymentMessage) =>
  p.transaction_id !== undefined && p.backend_id !== undefined && p.amount !== undefined &&
  p.timestamp !== undefined;

/**
 * XADDs payments onto `stream` in one Lua call per field layout (one round trip for the batch).
 * Payments with only the four core fields share one layout (in the canonical field order);
 * optional fields (`payee_key`, ...) are kept, payments with the same fields in the same order
 * sharing a call.
 */
export function streamEnqueuer(stream: string): Enqueuer {
  return {
    design: "stream",
    async enqueue(redis, batch) {
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
      await Promise.all(
        [...layouts.values()].filter((args) => args.length > 1 + Number(args[0])).map((args) =>
          enqueueBatchScript.run(redis, [stream], args)
        ),
      );
    },
  };
}
