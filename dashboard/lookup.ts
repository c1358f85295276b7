/**
 * Where one payment is now, by its `transaction_id`, at a bounded cost (never a scan of a whole
 * stream):
 *
 * - confirmed: its idempotency mark (`pix:done:<tx>`) holds the stream id of the entry that counted
 *   it (read tolerantly: the leading `<ms>-<seq>` of the value, whatever follows it), one XRANGE of
 *   that id reads the entry; a list design's mark names the list it came from instead;
 * - queued or pending (on which consumer, idle how long, delivered how often): the entries carrying
 *   it are looked for in at most three windows of `scanLimit` entries of the payment stream, the
 *   newest ones, those from the group's oldest pending entry and those just past its last delivered
 *   id; nothing older is read, and the answer says what was searched;
 * - dead-lettered (code, reason): the newest `scanLimit` dead letters;
 * - its confirmations (confirmed, duplicate, rejected): at most `scanLimit` entries of its backend's
 *   confirmation stream, from the time its first entry was added;
 * - in the ledger: one indexed row (`payments.transaction_id` is unique), when there is a ledger.
 * @module
 */
import { fieldsToRecord, formatCount as count, parseMark } from "@fastpix/pix";
import { compareIds, errorMessage, type Redis } from "@fastpix/infra";
import { markPrefixOf, recentDeadLetters, type Sql } from "@fastpix/consumer";
import { maskFields, maskText } from "./masking.ts";
import { type DeadLetterView, deadLetterView } from "./dead_letters.ts";

/** The headline: where the payment is now. */
export type PaymentState =
  | "confirmed"
  | "pending"
  | "queued"
  | "dead_lettered"
  | "acknowledged"
  | "ledger_only"
  | "not_found";

/** An entry of the payment stream that carries the transaction id. */
export interface StreamSighting {
  id: string;
  fields: Record<string, string>;
  /** Fields masked as personal data. */
  masked: string[];
  /** It set the idempotency mark: the entry that counted the payment. */
  counted: boolean;
  /**
   * `queued`: not yet delivered to the group; `pending`: delivered, not acknowledged;
   * `acknowledged`: done with; `unknown`: the group does not exist.
   */
  delivery: "queued" | "pending" | "acknowledged" | "unknown";
  pending?: { consumer: string; idleMs: number; deliveries: number };
}

/** An entry of a backend's confirmation stream for the transaction id. */
export interface ConfirmationSighting {
  stream: string;
  id: string;
  status: string;
  processedAmount: string;
  timestamp: string;
  errorCode?: string;
  errorMessage?: string;
}

/** The payment's row in the PostgreSQL ledger. */
export interface LedgerRow {
  status: string;
  backendId: string | null;
  amount: string | null;
  errorCode: number | null;
  errorMessage: string | null;
  stream: string;
  streamId: string;
  consumer: string;
  deliveries: number;
  latencyMs: number | null;
  enqueuedAt: string | null;
  processedAt: string;
}

/** Everything one lookup found, and what it searched. */
export interface PaymentLookup {
  transactionId: string;
  state: PaymentState;
  /** The state in one sentence. */
  summary: string;
  /** Later submissions of a counted payment (answered, or to be answered, `duplicate`). */
  duplicates: number;
  /** The idempotency mark, when set. */
  mark: {
    key: string;
    value: string;
    /** The stream id in it (null: a list design's mark, or a value not starting with one). */
    streamId: string | null;
    /** Milliseconds it still lives (null: no expiry). */
    ttlMs: number | null;
  } | null;
  entries: StreamSighting[];
  confirmations: ConfirmationSighting[];
  deadLetters: DeadLetterView[];
  /** The ledger's row; null: not in the ledger; absent: no ledger configured or it did not answer. */
  ledger?: LedgerRow | null;
  /** What was searched, in words (each bounded). */
  searched: string[];
  notes: string[];
  durationMs: number;
}

/** Options of {@link lookupPayment}. */
export interface LookupOptions {
  stream: string;
  group: string;
  responsePrefix: string;
  /** Entries read at most per window (payment stream windows, dead letters, confirmations). */
  scanLimit: number;
  /** Show personal data unmasked. */
  reveal: boolean;
  /** Reads the payment's ledger row (absent: no ledger). */
  ledger?: (transactionId: string) => Promise<LedgerRow | null>;
}

/** Longest transaction id looked up. */
export const MAX_TRANSACTION_ID_LENGTH = 256;

/** Most confirmation streams read per lookup (one per backend the payment was seen with). */
const MAX_BACKENDS = 4;

/**
 * The stream id a mark names (`<fingerprint>:<id>`, or `<id>` alone in an older mark), or null
 * when it names something else (a list design's source list).
 */
export function markStreamId(value: string): string | null {
  const { origin } = parseMark(value);
  return /^\d+-\d+$/.test(origin) ? origin : null;
}

const timeOf = (id: string) => id.split("-")[0];

type Entry = [string, string[]];

/** Reads a ledger row by transaction id (the unique index). */
export function ledgerRowReader(sql: Sql): (transactionId: string) => Promise<LedgerRow | null> {
  return async (transactionId) => {
    const [r] = await sql`
      SELECT status, backend_id, amount::text AS amount, error_code, error_message, stream,
             stream_id, consumer, deliveries, latency_ms, enqueued_at, processed_at
      FROM payments WHERE transaction_id = ${transactionId}`;
    if (!r) return null;
    const iso = (v: unknown) => v instanceof Date ? v.toISOString() : v === null ? null : String(v);
    return {
      status: r.status,
      backendId: r.backend_id,
      amount: r.amount,
      errorCode: r.error_code === null ? null : Number(r.error_code),
      errorMessage: r.error_message,
      stream: r.stream,
      streamId: r.stream_id,
      consumer: r.consumer,
      deliveries: Number(r.deliveries),
      latencyMs: r.latency_ms === null ? null : Number(r.latency_ms),
      enqueuedAt: iso(r.enqueued_at),
      processedAt: iso(r.processed_at) ?? "",
    };
  };
}

/** Runs a pipeline; a reply error becomes `null` (a missing stream or group is an answer). */
async function run(pipe: ReturnType<Redis["pipeline"]>): Promise<unknown[]> {
  const replies = (await pipe.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error && error.name !== "ReplyError") throw error;
    return error ? null : value;
  });
}

const entries = (reply: unknown): Entry[] => Array.isArray(reply) ? reply as Entry[] : [];

/** Finds where the payment `transactionId` is now. See the module's description for the bounds. */
export async function lookupPayment(
  redis: Redis,
  transactionId: string,
  options: LookupOptions,
): Promise<PaymentLookup> {
  const started = performance.now();
  const { stream, group, scanLimit: n } = options;
  const markKey = markPrefixOf(stream) + transactionId;
  const searched: string[] = [`idempotency mark ${markKey}`];
  const notes: string[] = [];

  // Round 1: the mark, the group's position, the newest entries.
  const first = await run(
    redis.pipeline()
      .get(markKey)
      .pttl(markKey)
      .xinfo("GROUPS", stream)
      .xpending(stream, group)
      .xrevrange(stream, "+", "-", "COUNT", n),
  );
  const markValue = typeof first[0] === "string" ? first[0] : null;
  const ttl = Number(first[1]);
  const mark = markValue === null ? null : {
    key: markKey,
    value: markValue,
    streamId: markStreamId(markValue),
    ttlMs: ttl >= 0 ? ttl : null,
  };
  const groupInfo = (Array.isArray(first[2]) ? first[2] : [])
    .map((flat) => fieldsToRecord((flat as unknown[]).map(String)))
    .find((g) => g.name === group);
  const lastDelivered = groupInfo?.["last-delivered-id"] ?? null;
  const pendingSummary = Array.isArray(first[3]) ? first[3] : null;
  const oldestPending = typeof pendingSummary?.[1] === "string" ? pendingSummary[1] : null;
  const newest = entries(first[4]);
  const newestComplete = newest.length < n;
  const oldestSeen = newest.at(-1)?.[0] ?? null;
  searched.push(
    newestComplete
      ? `all ${count(newest.length)} entries of ${stream}`
      : `the newest ${count(n)} entries of ${stream} (from ${oldestSeen})`,
  );

  // Round 2: the entry the mark names, and the windows the newest entries do not cover.
  const pipe = redis.pipeline();
  const reads: string[] = [];
  if (mark?.streamId) {
    pipe.xrange(stream, mark.streamId, mark.streamId);
    reads.push("mark");
  }
  const uncovered = (id: string | null) =>
    id !== null && !newestComplete && oldestSeen !== null && compareIds(id, oldestSeen) < 0;
  if (uncovered(oldestPending)) {
    pipe.xrange(stream, oldestPending!, "+", "COUNT", n);
    reads.push("pending");
    searched.push(
      `${count(n)} entries of ${stream} from its oldest pending one (${oldestPending})`,
    );
  }
  if (lastDelivered !== null && uncovered(lastDelivered)) {
    pipe.xrange(stream, `(${lastDelivered}`, "+", "COUNT", n);
    reads.push("undelivered");
    searched.push(
      `${count(n)} entries of ${stream} past the group's last delivered id (${lastDelivered})`,
    );
  }
  const second = reads.length > 0 ? await run(pipe) : [];
  const found = new Map<string, Record<string, string>>();
  const consider = (list: Entry[]) => {
    for (const [id, flat] of list) {
      const fields = fieldsToRecord(flat);
      if (fields.transaction_id === transactionId) found.set(id, fields);
    }
  };
  consider(newest);
  reads.forEach((what, i) => {
    const list = entries(second[i]);
    if (what === "mark" && list.length === 0) {
      notes.push(`The entry that counted it (${mark!.streamId}) is no longer in ${stream}.`);
    }
    consider(list);
  });

  // Round 3: each entry's delivery (pending on whom, since when).
  const ids = [...found.keys()].sort(compareIds);
  const third = groupInfo && ids.length > 0
    ? await run(ids.reduce((p, id) => p.xpending(stream, group, id, id, 1), redis.pipeline()))
    : [];
  const sightings: StreamSighting[] = ids.map((id, i) => {
    const { fields, masked } = maskFields(found.get(id)!, options.reveal);
    const sighting: StreamSighting = {
      id,
      fields,
      masked,
      counted: mark?.streamId === id,
      delivery: "unknown",
    };
    if (!groupInfo) return sighting;
    const [detail] = Array.isArray(third[i]) ? third[i] as unknown[][] : [];
    if (detail) {
      sighting.delivery = "pending";
      sighting.pending = {
        consumer: String(detail[1]),
        idleMs: Number(detail[2]),
        deliveries: Number(detail[3]),
      };
    } else if (lastDelivered !== null && compareIds(id, lastDelivered) > 0) {
      sighting.delivery = "queued";
    } else sighting.delivery = "acknowledged";
    return sighting;
  });
  if (!groupInfo) notes.push(`Group ${group} does not exist: deliveries are unknown.`);

  // The newest dead letters.
  const recent = await recentDeadLetters(redis, stream, { count: n, scan: n });
  searched.push(
    recent.complete
      ? `all ${count(recent.scanned)} dead letter${recent.scanned === 1 ? "" : "s"}`
      : `the newest ${count(recent.scanned)} dead letters`,
  );
  const deadLetters: DeadLetterView[] = recent.letters
    .filter((l) => l.fields?.transaction_id === transactionId)
    .map((l) => deadLetterView(l, options.reveal));

  // The ledger's row.
  let ledger: LedgerRow | null | undefined;
  if (options.ledger) {
    try {
      ledger = await options.ledger(transactionId);
      searched.push("the ledger (PostgreSQL)");
    } catch (error) {
      notes.push(`The ledger did not answer: ${errorMessage(error)}`);
    }
  }

  // The confirmations, on each backend's stream, from the earliest time the payment was seen.
  const personal = [...found.values()][0] ??
    recent.letters.find((l) => l.fields?.transaction_id === transactionId)?.fields;
  const backends = new Set<string>();
  for (const fields of found.values()) if (fields.backend_id) backends.add(fields.backend_id);
  for (const l of deadLetters) if (l.fields?.backend_id) backends.add(l.fields.backend_id);
  if (ledger?.backendId) backends.add(ledger.backendId);
  const times = [
    ...ids,
    ...deadLetters.map((l) => l.originalId),
    ...(mark?.streamId ? [mark.streamId] : []),
    ...(ledger?.streamId ? [ledger.streamId] : []),
  ].filter((id) => markStreamId(id) !== null).map(timeOf).sort((a, b) => Number(a) - Number(b));
  const confirmations: ConfirmationSighting[] = [];
  if (times.length > 0 && backends.size > 0) {
    const keys = [...backends].slice(0, MAX_BACKENDS).map((b) => options.responsePrefix + b);
    const replies = await run(
      keys.reduce((p, key) => p.xrange(key, `${times[0]}-0`, "+", "COUNT", n), redis.pipeline()),
    );
    keys.forEach((key, i) => {
      const read = entries(replies[i]).length;
      searched.push(
        read < n
          ? `all ${count(read)} confirmations on ${key} from ${times[0]}-0`
          : `the ${count(n)} confirmations on ${key} from ${times[0]}-0`,
      );
      for (const [id, flat] of entries(replies[i])) {
        const c = fieldsToRecord(flat);
        if (c.transaction_id !== transactionId) continue;
        confirmations.push({
          stream: key,
          id,
          status: c.status ?? "",
          processedAmount: c.processed_amount ?? "",
          timestamp: c.timestamp ?? "",
          ...(c.error_code !== undefined ? { errorCode: c.error_code } : {}),
          ...(c.error_message !== undefined
            ? { errorMessage: maskText(c.error_message, personal, options.reveal) }
            : {}),
        });
      }
    });
  } else if (mark && backends.size === 0) {
    notes.push("Its backend is unknown (no entry left to read it from): confirmations not read.");
  }

  // Later submissions: their duplicate confirmations, or the uncounted entries still in the stream.
  const duplicates = mark
    ? Math.max(
      confirmations.filter((c) => c.status === "duplicate").length,
      sightings.filter((s) => !s.counted).length,
    )
    : 0;
  const { state, summary } = verdict(mark, sightings, deadLetters, ledger, searched);
  return {
    transactionId,
    state,
    summary,
    duplicates,
    mark,
    entries: sightings,
    confirmations,
    deadLetters,
    ...(ledger !== undefined ? { ledger } : {}),
    searched,
    notes,
    durationMs: performance.now() - started,
  };
}

/** Human-friendly milliseconds: `850 ms`, `12.3 s`, `4 min`. */
function elapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function verdict(
  mark: PaymentLookup["mark"],
  sightings: StreamSighting[],
  deadLetters: DeadLetterView[],
  ledger: LedgerRow | null | undefined,
  searched: string[],
): { state: PaymentState; summary: string } {
  if (mark) {
    const by = mark.streamId ? `stream entry ${mark.streamId}` : `a list design (${mark.value})`;
    return { state: "confirmed", summary: `Confirmed and counted once, by ${by}.` };
  }
  const pending = sightings.find((s) => s.delivery === "pending");
  if (pending?.pending) {
    const p = pending.pending;
    return {
      state: "pending",
      summary: `Pending on consumer ${p.consumer} for ${elapsed(p.idleMs)} (delivered ${
        p.deliveries === 1 ? "once" : `${p.deliveries} times`
      }), entry ${pending.id}.`,
    };
  }
  const queued = sightings.find((s) => s.delivery === "queued" || s.delivery === "unknown");
  if (queued) {
    return {
      state: "queued",
      summary: queued.delivery === "queued"
        ? `Queued: entry ${queued.id} is not yet delivered to the group.`
        : `Queued: entry ${queued.id} waits in the stream; the group does not exist yet.`,
    };
  }
  const letter = deadLetters[0];
  if (letter) {
    const name = letter.codeName ? ` ${letter.codeName}` : "";
    return {
      state: "dead_lettered",
      summary: `Dead-lettered with code ${letter.errorCode}${name}: ${letter.reason}`,
    };
  }
  const acked = sightings.find((s) => s.delivery === "acknowledged");
  if (acked) {
    return {
      state: "acknowledged",
      summary: `Entry ${acked.id} was processed and acknowledged without being counted ` +
        "(no idempotency mark): rejected and its dead letter replayed or purged, or processed " +
        "by a design that keeps no mark.",
    };
  }
  if (ledger) {
    return {
      state: "ledger_only",
      summary: `Only in the ledger (${ledger.status}, entry ${ledger.streamId}): ` +
        "its idempotency mark has expired and its entry is gone from Redis.",
    };
  }
  return {
    state: "not_found",
    summary: `Not found in: ${searched.join("; ")}. Older entries are not searched.`,
  };
}
