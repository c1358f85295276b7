/**
 * The Rinha backend's state in Redis: the payment queue (a stream with a consumer group), the
 * ingress idempotency marks, each payment's intent (processor of record and requestedAt), the
 * count-once marks and the summary buckets. Every change is one Lua script (see `lua/`).
 * @module
 */
import { ensureGroup, LuaScript, type Redis } from "@fastpix/infra";

/** The two processors, in the challenge's names. */
export const PROCESSORS = ["default", "fallback"] as const;
/** `default` or `fallback`. */
export type ProcessorName = typeof PROCESSORS[number];

/** Key names of the Rinha mode; all under `rinha:` (see the README's table). */
export const RINHA_KEYS = {
  queue: "rinha:queue",
  group: "rinha_workers",
  amounts: "rinha:amounts",
  intents: "rinha:intents",
  paid: "rinha:paid",
  health: "rinha:health",
  healthLeader: "rinha:health:leader",
  healthGate: (p: ProcessorName) => `rinha:health:gate:${p}`,
  sums: (p: ProcessorName) => `rinha:sums:${p}`,
  topIndex: (p: ProcessorName) => `rinha:top:${p}`,
} as const;

const script = (name: string) => LuaScript.fromFile(name, `./lua/${name}.lua`, import.meta.url);
const enqueueScript = script("enqueue_payment");
const beginScript = script("begin_attempt");
const releaseScript = script("release_attempt");
const recordScript = script("record_payment");
const summaryScript = script("summary");
const purgeScript = script("purge");

/** Where {@link RinhaStore.begin} says to send a payment. */
export type BeginResult =
  | { kind: "paid"; processor: ProcessorName; requestedAtMs: number }
  | { kind: "wait"; boundTo?: ProcessorName }
  | {
    kind: "send";
    processor: ProcessorName;
    requestedAtMs: number;
    attempt: number;
    /** Whether an earlier attempt was already in doubt (it stays bound after a refusal). */
    doubtBefore: boolean;
  };

/** A processor the worker could use now, with the requestedAt a fresh attempt would carry. */
export interface Choice {
  processor: ProcessorName;
  requestedAtMs: number;
}

/** A payment a processor accepted. */
export interface PaidPayment {
  correlationId: string;
  processor: ProcessorName;
  requestedAtMs: number;
  cents: number;
  /** Queue entry to acknowledge with it. */
  entryId?: string;
}

/** Count and cents per processor. */
export type Summary = Record<ProcessorName, { count: number; cents: number }>;

/** What a payment's record in `rinha:paid` says. */
export function parsePaid(value: string): { processor: ProcessorName; requestedAtMs: number } {
  const [processor, ms] = value.split("|");
  return { processor: processor as ProcessorName, requestedAtMs: Number(ms) };
}

/** The Rinha backend's Redis operations. */
export class RinhaStore {
  constructor(readonly redis: Redis) {}

  /** Creates the queue and its group when missing. */
  async ensureGroup(): Promise<void> {
    await ensureGroup(this.redis, RINHA_KEYS.queue, RINHA_KEYS.group);
  }

  /** Queues a payment; false when its correlation id was already queued. */
  async enqueue(correlationId: string, cents: number): Promise<boolean> {
    const added = await enqueueScript.run(
      this.redis,
      [RINHA_KEYS.amounts, RINHA_KEYS.queue],
      [correlationId, cents],
    );
    return added === 1;
  }

  /** Picks the processor and requestedAt of the next attempt (see `lua/begin_attempt.lua`). */
  async begin(correlationId: string, choices: readonly Choice[]): Promise<BeginResult> {
    const args: (string | number)[] = [correlationId];
    for (const c of choices) args.push(c.processor, c.requestedAtMs);
    const reply = await beginScript.run(
      this.redis,
      [RINHA_KEYS.paid, RINHA_KEYS.intents],
      args,
    ) as string[];
    if (reply[0] === "paid") return { kind: "paid", ...parsePaid(reply[1]) };
    if (reply[0] === "wait") {
      return { kind: "wait", boundTo: (reply[1] || undefined) as ProcessorName | undefined };
    }
    return {
      kind: "send",
      processor: reply[1] as ProcessorName,
      requestedAtMs: Number(reply[2]),
      attempt: Number(reply[3]),
      doubtBefore: reply[4] === "1",
    };
  }

  /** The processor refused the attempt for sure (500/429): unbind it if nothing else may be in flight. */
  async release(
    correlationId: string,
    attempt: { attempt: number; doubtBefore: boolean },
  ): Promise<boolean> {
    const released = await releaseScript.run(this.redis, [RINHA_KEYS.intents], [
      correlationId,
      attempt.attempt,
      attempt.doubtBefore ? "1" : "0",
    ]);
    return released === 1;
  }

  /** Counts an accepted payment once and acknowledges its entry; true when counted now. */
  async record(payment: PaidPayment): Promise<boolean> {
    const p = payment.processor;
    const keys = [
      RINHA_KEYS.queue,
      RINHA_KEYS.paid,
      RINHA_KEYS.intents,
      RINHA_KEYS.sums(p),
      RINHA_KEYS.topIndex(p),
    ];
    const counted = await recordScript.run(this.redis, keys, [
      RINHA_KEYS.group,
      payment.entryId ?? "",
      payment.correlationId,
      p,
      payment.requestedAtMs,
      payment.cents,
    ]);
    return counted === 1;
  }

  /** Acknowledges (and deletes) a queue entry whose payment was already counted. */
  async ack(entryId: string): Promise<void> {
    await this.redis.multi()
      .xack(RINHA_KEYS.queue, RINHA_KEYS.group, entryId)
      .xdel(RINHA_KEYS.queue, entryId)
      .exec();
  }

  /** Count and cents per processor with requestedAt in `[fromMs, toMs]`. */
  async summary(fromMs: number, toMs: number): Promise<Summary> {
    const keys = PROCESSORS.flatMap((p) => [RINHA_KEYS.sums(p), RINHA_KEYS.topIndex(p)]);
    const r = await summaryScript.run(this.redis, keys, [fromMs, toMs]) as number[];
    return {
      default: { count: r[0], cents: r[1] },
      fallback: { count: r[2], cents: r[3] },
    };
  }

  /** Forgets every payment and recreates an empty queue. */
  async purge(): Promise<void> {
    const keys = [
      RINHA_KEYS.queue,
      RINHA_KEYS.amounts,
      RINHA_KEYS.intents,
      RINHA_KEYS.paid,
      ...PROCESSORS.flatMap((p) => [RINHA_KEYS.sums(p), RINHA_KEYS.topIndex(p)]),
    ];
    await purgeScript.run(this.redis, keys, [RINHA_KEYS.group]);
  }
}
