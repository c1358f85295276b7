/**
 * Dead letters: list them, replay them onto the payment stream, purge them. A dead letter
 * (`<stream>:dlq`) holds the original entry's id and fields, the error code and reason, its
 * delivery count, the consumer and when it failed.
 *
 * Replay and purge go through one script (`lua/dlq_move.lua`), 500 letters a call: a letter is
 * re-enqueued or purged only by the call that deletes it, so two replays, or a replay racing a
 * purge, account for every letter exactly once (replayed, purged, or already gone). Replay does
 * not re-enqueue a letter whose payment is already processed (its idempotency mark
 * `pix:done:<transaction_id>` exists): it deletes it and reports it.
 * @module
 */
import { dlqKey, fieldsToRecord, streamKeys, UserError } from "@fastpix/pix";
import { LuaScript, type Redis } from "@fastpix/infra";

const moveScript = LuaScript.fromFile("dlq_move", "./lua/dlq_move.lua", import.meta.url);

/** Dead letters read per XRANGE page and moved per script call. */
export const DLQ_CHUNK = 500;

/** Most fields a replayed payment may have (the script's limit). */
const MAX_FIELDS = 1000;

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

/**
 * The idempotency mark prefix of `stream`'s payments: `pix:done:`, or for one partition of the
 * partitioned layout (`<base>:{<tag>}`) that partition's `pix:done:{<tag>}:`.
 */
export function markPrefixOf(stream: string): string {
  const partition = /^(.+):\{([^{}]+)\}$/.exec(stream);
  return partition
    ? streamKeys(partition[1], partition[2]).markPrefix
    : streamKeys(stream).markPrefix;
}

/**
 * Dead letters of `stream`, oldest first, one XRANGE page at a time (`pageSize`, default
 * {@link DLQ_CHUNK}): at most `count`, optionally only one error code, up to id `end` (default:
 * the newest).
 */
export async function* deadLetterPages(
  redis: Redis,
  stream: string,
  options: { count?: number; code?: number; pageSize?: number; end?: string } = {},
): AsyncGenerator<DeadLetter[]> {
  const limit = options.count ?? Infinity;
  const pageSize = options.pageSize ?? DLQ_CHUNK;
  let start = "-";
  let taken = 0;
  while (taken < limit) {
    const page = await redis.xrange(dlqKey(stream), start, options.end ?? "+", "COUNT", pageSize);
    const letters: DeadLetter[] = [];
    for (const [id, flat] of page) {
      if (taken >= limit) break;
      const letter = toDeadLetter(id, flat);
      if (options.code !== undefined && letter.errorCode !== options.code) continue;
      letters.push(letter);
      taken++;
    }
    if (letters.length > 0) yield letters;
    if (page.length < pageSize) break;
    start = `(${page[page.length - 1][0]}`;
  }
}

/** Dead letters of `stream`, oldest first, at most `count`, optionally only one error code. */
export async function listDeadLetters(
  redis: Redis,
  stream: string,
  options: { count?: number; code?: number } = {},
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for await (const page of deadLetterPages(redis, stream, options)) out.push(...page);
  return out;
}

/** The newest dead letters, newest first, from {@link recentDeadLetters}. */
export interface RecentDeadLetters {
  letters: DeadLetter[];
  /** Dead letters looked at (matching the code or not). */
  scanned: number;
  /** True when every dead letter was looked at (the scan limit did not cut it). */
  complete: boolean;
}

/**
 * The newest dead letters of `stream`, newest first: at most `count` (default 100), optionally
 * only one error code, looking at no more than `scan` letters (default 10 × `count`), so filtering
 * on a rare code costs a bounded number of XREVRANGE pages whatever the dead-letter stream holds.
 */
export async function recentDeadLetters(
  redis: Redis,
  stream: string,
  options: { count?: number; code?: number; scan?: number } = {},
): Promise<RecentDeadLetters> {
  const count = options.count ?? 100;
  const scan = options.scan ?? 10 * count;
  const letters: DeadLetter[] = [];
  let end = "+";
  let scanned = 0;
  while (letters.length < count && scanned < scan) {
    const pageSize = Math.min(DLQ_CHUNK, scan - scanned);
    const page = await redis.xrevrange(dlqKey(stream), end, "-", "COUNT", pageSize);
    for (const [id, flat] of page) {
      scanned++;
      const letter = toDeadLetter(id, flat);
      if (options.code !== undefined && letter.errorCode !== options.code) continue;
      letters.push(letter);
      if (letters.length === count) return { letters, scanned, complete: false };
    }
    if (page.length < pageSize) return { letters, scanned, complete: true };
    end = `(${page[page.length - 1][0]}`;
  }
  return { letters, scanned, complete: false };
}

/** What happened to one selected dead letter. */
export interface LetterOutcome {
  /** Its id in the dead-letter stream (or, for `unknown`, the id given). */
  id: string;
  /**
   * `replayed` (re-enqueued, deleted), `purged` (deleted), `processed` (replay: its payment's
   * idempotency mark exists, so deleted and not re-enqueued), `gone` (another replay or purge
   * deleted it first), `unknown` (an id given that is no dead letter), `skipped` (left in place).
   */
  kind: "replayed" | "purged" | "processed" | "gone" | "unknown" | "skipped";
  /** `replayed`: the payment's new stream id; `processed`: its transaction id; `skipped`: why. */
  detail?: string;
}

/** Options of {@link moveDeadLetters}. */
export interface MoveOptions {
  /** Letters per script call (default {@link DLQ_CHUNK}). */
  chunk?: number;
  /** Throw a {@link UserError} before moving anything when an id given is no dead letter. */
  refuseUnknown?: boolean;
}

/** Reads the letters `ids` name (pipelined, `chunk` at a time); ids that are none are `unknown`. */
async function readIds(redis: Redis, dlq: string, ids: readonly string[], chunk: number) {
  const found: DeadLetter[] = [];
  const unknown: string[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += chunk) {
    const some = unique.slice(i, i + chunk);
    const pipeline = redis.pipeline();
    for (const id of some) pipeline.xrange(dlq, id, id);
    const replies = (await pipeline.exec()) ?? [];
    some.forEach((id, j) => {
      const [error, entries] = replies[j] ?? [new Error("no reply"), null];
      if (error) throw error;
      const [entry] = entries as [string, string[]][];
      if (entry) found.push(toDeadLetter(entry[0], entry[1]));
      else unknown.push(id);
    });
  }
  return { found, unknown };
}

/** Moves one chunk of letters with the script; resolves to their outcomes. */
async function moveChunk(
  redis: Redis,
  stream: string,
  action: "replay" | "purge",
  letters: DeadLetter[],
  markPrefix: string,
): Promise<LetterOutcome[]> {
  const outcomes: LetterOutcome[] = [];
  const args: (string | number)[] = [action];
  const marks: string[] = [];
  const sent: DeadLetter[] = [];
  for (const letter of letters) {
    if (action === "purge") {
      args.push(letter.id, 0, 0);
    } else {
      const flat = letter.fields ? Object.entries(letter.fields).flat() : [];
      if (flat.length === 0 || flat.length > 2 * MAX_FIELDS) {
        outcomes.push({
          id: letter.id,
          kind: "skipped",
          detail: flat.length === 0
            ? "its original fields cannot be read back"
            : `it has more than ${MAX_FIELDS} fields`,
        });
        continue;
      }
      const tx = letter.fields?.transaction_id ?? "";
      if (tx !== "") marks.push(markPrefix + tx);
      args.push(letter.id, tx === "" ? 0 : marks.length, flat.length / 2, ...flat);
    }
    sent.push(letter);
  }
  if (sent.length === 0) return outcomes;
  const replies = await moveScript.run(redis, [dlqKey(stream), stream, ...marks], args) as string[];
  sent.forEach((letter, i) => {
    const reply = String(replies[i]);
    if (reply === "gone" || reply === "purged") outcomes.push({ id: letter.id, kind: reply });
    else if (reply === "processed") {
      outcomes.push({ id: letter.id, kind: reply, detail: letter.fields?.transaction_id });
    } else outcomes.push({ id: letter.id, kind: "replayed", detail: reply });
  });
  return outcomes;
}

/**
 * Replays or purges the selected dead letters, {@link MoveOptions.chunk} at a time; yields each
 * chunk's outcomes as it is done (memory stays bounded by the chunk). `--all` and `--code` take the
 * letters present when it starts (up to the newest id then), not those dead-lettered meanwhile.
 * With ids, letters of another error code than `selection.code` are skipped.
 */
export async function* moveDeadLetters(
  redis: Redis,
  stream: string,
  selection: DeadLetterSelection,
  action: "replay" | "purge",
  options: MoveOptions = {},
): AsyncGenerator<LetterOutcome[]> {
  const chunk = options.chunk ?? DLQ_CHUNK;
  const dlq = dlqKey(stream);
  const markPrefix = markPrefixOf(stream);
  if (selection.ids && selection.ids.length > 0) {
    const { found, unknown } = await readIds(redis, dlq, selection.ids, chunk);
    if (unknown.length > 0 && options.refuseUnknown) {
      const shown = unknown.slice(0, 5).join(", ") + (unknown.length > 5 ? ", …" : "");
      throw new UserError(
        `${unknown.length} of the ids given ${
          unknown.length === 1 ? "is not a dead letter" : "are not dead letters"
        } in ${dlq} (${shown}); nothing was ${
          action === "replay" ? "replayed" : "purged"
        }: see deno task dlq list`,
      );
    }
    if (unknown.length > 0) yield unknown.map((id): LetterOutcome => ({ id, kind: "unknown" }));
    const code = selection.code;
    const skipped = found.filter((l) => code !== undefined && l.errorCode !== code);
    if (skipped.length > 0) {
      yield skipped.map((l): LetterOutcome => ({
        id: l.id,
        kind: "skipped",
        detail: `its error code is ${l.errorCode}, not ${code}`,
      }));
    }
    const selected = found.filter((l) => code === undefined || l.errorCode === code);
    for (let i = 0; i < selected.length; i += chunk) {
      yield await moveChunk(redis, stream, action, selected.slice(i, i + chunk), markPrefix);
    }
    return;
  }
  if (!selection.all && selection.code === undefined) return;
  const [newest] = await redis.xrevrange(dlq, "+", "-", "COUNT", 1);
  if (!newest) return;
  const pages = deadLetterPages(redis, stream, {
    code: selection.code,
    pageSize: chunk,
    end: newest[0],
  });
  for await (const page of pages) yield await moveChunk(redis, stream, action, page, markPrefix);
}

/** Every outcome of a replay or purge, by kind. */
export interface DeadLetterReport {
  /** Dead-letter id → the payment's new id in the stream. */
  replayed: Map<string, string>;
  /** Dead-letter ids deleted by a purge. */
  purged: string[];
  /** Replay: dead-letter id → transaction id, deleted and not re-enqueued (already processed). */
  processed: Map<string, string>;
  /** Dead-letter ids another replay or purge deleted first. */
  gone: string[];
  /** Ids given that are no dead letters. */
  unknown: string[];
  /** Dead letters left where they are, with why. */
  skipped: Map<string, string>;
}

async function collect(outcomes: AsyncIterable<LetterOutcome[]>): Promise<DeadLetterReport> {
  const report: DeadLetterReport = {
    replayed: new Map(),
    purged: [],
    processed: new Map(),
    gone: [],
    unknown: [],
    skipped: new Map(),
  };
  for await (const some of outcomes) {
    for (const { id, kind, detail } of some) {
      if (kind === "replayed" || kind === "processed" || kind === "skipped") {
        report[kind].set(id, detail ?? "");
      } else report[kind].push(id);
    }
  }
  return report;
}

/**
 * Re-enqueues the selected dead letters' original fields and removes the dead letters; those whose
 * payment is already processed are removed without re-enqueueing them.
 */
export function replayDeadLetters(
  redis: Redis,
  stream: string,
  selection: DeadLetterSelection,
  options: MoveOptions = {},
): Promise<DeadLetterReport> {
  return collect(moveDeadLetters(redis, stream, selection, "replay", options));
}

/** Deletes the selected dead letters. */
export function purgeDeadLetters(
  redis: Redis,
  stream: string,
  selection: DeadLetterSelection,
  options: MoveOptions = {},
): Promise<DeadLetterReport> {
  return collect(moveDeadLetters(redis, stream, selection, "purge", options));
}
