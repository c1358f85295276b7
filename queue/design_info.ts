/**
 * What each queue design is, as plain data: its name, the task that runs its consumer, whether
 * that consumer confirms, and its guarantees. Dependency-free on purpose: k6 scenarios import it
 * as well as the Deno tools ({@link ./registry.ts} adds the code that drives each design).
 * @module
 */

/** The queue designs, by the names `--design`, `?design=` and `DESIGNS` take. */
export const DESIGN_NAMES = ["stream", "basic", "list", "list-reliable"] as const;

/** One of {@link DESIGN_NAMES}. */
export type DesignName = typeof DESIGN_NAMES[number];

/** What a design promises, in words a user can compare side by side. */
export interface DesignGuarantees {
  /** How the consumer tells the queue a payment is done. */
  ack: string;
  /** What happens to a payment whose consumer dies with it. */
  redelivery: string;
  /** Where payments that cannot be processed go. */
  deadLetters: string;
  /** Order in which payments are processed. */
  ordering: string;
  /** Whether each backend is told each outcome. */
  confirmations: string;
  /** How many times a payment can be counted. */
  counting: string;
}

/** One design's plain facts. */
export interface DesignInfo {
  name: DesignName;
  /** One line for tables and `--help`. */
  summary: string;
  /** `deno task <consumerTask>` runs its consumer. */
  consumerTask: string;
  /** The consumer command's file, from the repository root. */
  consumerScript: string;
  /** Its consumer writes a confirmation per payment (so `?wait=true` and `--await` work). */
  confirms: boolean;
  /** Payments sit in a stream (`true`) or in lists (`false`). */
  usesStream: boolean;
  guarantees: DesignGuarantees;
}

/** Every design's facts: the one place that lists the designs. */
export const DESIGNS: Readonly<Record<DesignName, DesignInfo>> = {
  stream: {
    name: "stream",
    summary: "consumer group, batches applied by one Lua call, XAUTOCLAIM, confirmations",
    consumerTask: "consume",
    consumerScript: "consumer/consume_command.ts",
    confirms: true,
    usesStream: true,
    guarantees: {
      ack: "XACK in the same Lua call that applies the batch",
      redelivery: "XAUTOCLAIM after IDLE_THRESHOLD_MS, with delivery counts",
      deadLetters: "invalid payments and those delivered MAX_DELIVERIES times",
      ordering: "stream order within a batch; reclaimed entries come later",
      confirmations: "one per payment on backend_bacen_response_<backend_id>",
      counting: "exactly once (idempotency mark per transaction_id)",
    },
  },
  basic: {
    name: "basic",
    summary: "stream, one entry per XREADGROUP, counters then XACK, no confirmations",
    consumerTask: "consume:basic",
    consumerScript: "consumer/consume_basic_command.ts",
    confirms: false,
    usesStream: true,
    guarantees: {
      ack: "XACK after counting, a separate call",
      redelivery: "XPENDING + XCLAIM after IDLE_THRESHOLD_MS",
      deadLetters: "invalid payments",
      ordering: "stream order; reclaimed entries come later",
      confirmations: "none",
      counting: "at least once (a crash between count and XACK counts again)",
    },
  },
  list: {
    name: "list",
    summary: "plain list FIFO: LPUSH in, BRPOP out, no acknowledgement",
    consumerTask: "consume:list",
    consumerScript: "fifo_list_demo/consume_list_command.ts",
    confirms: true,
    usesStream: false,
    guarantees: {
      ack: "none: BRPOP removes the payment",
      redelivery: "none: a crashed consumer's popped payments are lost",
      deadLetters: "invalid payments",
      ordering: "FIFO per list",
      confirmations: "one per payment on backend_bacen_response_<backend_id>",
      counting: "at most once (idempotency mark per transaction_id)",
    },
  },
  "list-reliable": {
    name: "list-reliable",
    summary: "BLMOVE into a processing list, heartbeat, reaper of dead consumers' lists",
    consumerTask: "consume:list-reliable",
    consumerScript: "fifo_list_demo/consume_list_reliable_command.ts",
    confirms: true,
    usesStream: false,
    guarantees: {
      ack: "LREM from the processing list in the Lua call that applies the batch",
      redelivery: "the reaper returns a dead consumer's processing list after IDLE_THRESHOLD_MS",
      deadLetters: "invalid payments (no delivery counts: a poison payload cycles)",
      ordering: "FIFO per list; reaped payloads come later",
      confirmations: "one per payment on backend_bacen_response_<backend_id>",
      counting: "exactly once (idempotency mark per transaction_id)",
    },
  },
};

/** Designs whose consumer writes confirmations. */
export const CONFIRMING_DESIGNS: readonly DesignName[] = DESIGN_NAMES.filter((d) =>
  DESIGNS[d].confirms
);

/** Whether `name` is one of {@link DESIGN_NAMES}. */
export function isDesignName(name: string): name is DesignName {
  return (DESIGN_NAMES as readonly string[]).includes(name);
}
