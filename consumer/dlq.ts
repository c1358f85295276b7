/**
 * Dead letters: list them, replay them onto the payment stream, purge them. A dead letter
 * (`<stream>:dlq`) holds the original entry's id and fields, the error code and reason, its
 * delivery count, the consumer and when it failed.
 *
 * Replay adds the original fields to the payment stream as a new entry (so a new delivery count)
 * and deletes the dead letter in the same MULTI/EXEC: never both, never neither. A replayed
 * payment that was already processed is answered `duplicate` and not counted again (the
 * consumer's `pix:done:<transaction_id>` marks).
 * @module
 */
import { dlqKey, fieldsToRecord } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";

/** One dead letter. */
export interface DeadLetter {
  /** Its id in the dead-letter stream. */
  id: string;
  /** The payment's id in the payment stream. */
  originalId: string;
  /** The payment's fields; `undefined` when they cannot be read back. */
  fields: Record<string, string> | undefined;
  errorCode: number;
  reason: string;
  deliveries: number;
  consumer: string;
  failedAt: string;
}

/** Which dead letters a replay or purge takes: some ids, one error code, or all. */
export interface DeadLetterSelection {
  ids?: readonly string[];
  code?: number;
  all?: boolean;
}

function toDeadLetter(id: string, flat: string[]): DeadLetter {
  const r = fieldsToRecord(flat);
  let fields: Record<string, string> | undefined;
  try {
    const parsed = JSON.parse(r.fields ?? "");
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      fields = Object.create(null);
      for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") fields![k] = v;
    }
  } catch { /* unreadable: listed, not replayable */ }
  return {
    id,
    originalId: r.original_id ?? "",
    fields,
    errorCode: Number(r.error_code),
    reason: r.reason ?? "",
    deliveries: Number(r.deliveries ?? 0),
    consumer: r.consumer ?? "",
    failedAt: r.failed_at ?? "",
  };
}

/** Dead letters of `stream`, oldest first, at most `count`, optionally only one error code. */
export async function listDeadLetters(
  redis: Redis,
  stream: string,
  options: { count?: number; code?: number } = {},
): Promise<DeadLetter[]> {
  const limit = options.count ?? Infinity;
  const out: DeadLetter[] = [];
  let start = "-";
  while (out.length < limit) {
    const page = await redis.xrange(dlqKey(stream), start, "+", "COUNT", 1000);
    for (const [id, flat] of page) {
      const letter = toDeadLetter(id, flat);
      if (options.code === undefined || letter.errorCode === options.code) out.push(letter);
      if (out.length >= limit) break;
    }
    if (page.length < 1000) break;
    start = `(${page[page.length - 1][0]}`;
  }
  return out;
}

async function select(
  redis: Redis,
  stream: string,
  selection: DeadLetterSelection,
): Promise<DeadLetter[]> {
  if (selection.ids && selection.ids.length > 0) {
    const found: DeadLetter[] = [];
    for (const id of selection.ids) {
      const [entry] = await redis.xrange(dlqKey(stream), id, id);
      if (entry) found.push(toDeadLetter(entry[0], entry[1]));
    }
    return found.filter((d) => selection.code === undefined || d.errorCode === selection.code);
  }
  if (selection.all || selection.code !== undefined) {
    return await listDeadLetters(redis, stream, { code: selection.code });
  }
  return [];
}

/** The outcome of {@link replayDeadLetters}. */
export interface ReplayResult {
  /** Dead-letter id → the payment's new id in the stream. */
  replayed: Map<string, string>;
  /** Dead letters left where they are, with why. */
  skipped: Map<string, string>;
}

/** Re-enqueues the selected dead letters' original fields and removes the dead letters. */
export async function replayDeadLetters(
  redis: Redis,
  stream: string,
  selection: DeadLetterSelection,
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: new Map(), skipped: new Map() };
  for (const letter of await select(redis, stream, selection)) {
    const flat = letter.fields ? Object.entries(letter.fields).flat() : [];
    if (flat.length === 0) {
      result.skipped.set(letter.id, "its original fields cannot be read back");
      continue;
    }
    const replies = await redis.multi()
      .xadd(stream, "*", ...flat)
      .xdel(dlqKey(stream), letter.id)
      .exec();
    const [[error, newId]] = replies ?? [[new Error("transaction aborted"), null]];
    if (error) result.skipped.set(letter.id, error.message);
    else result.replayed.set(letter.id, String(newId));
  }
  return result;
}

/** Deletes the selected dead letters; resolves to how many were deleted. */
export async function purgeDeadLetters(
  redis: Redis,
  stream: string,
  selection: DeadLetterSelection,
): Promise<number> {
  const ids = (await select(redis, stream, selection)).map((d) => d.id);
  let deleted = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    deleted += await redis.xdel(dlqKey(stream), ...ids.slice(i, i + 1000));
  }
  return deleted;
}
