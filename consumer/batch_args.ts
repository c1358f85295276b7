/**
 * The layout of a `process_batch` call (documented in `lua/process_batch.lua`), owned here and
 * nowhere else: {@link encodeBatchArgs} writes its ARGV (a header, then {@link ENTRY_STRIDE} values
 * per stream entry) for `buildBatch`, {@link batchEntries} reads the entries back for the ledger's
 * outbox. Also the parts every batch script shares (`lua/includes/batch.lua`): the
 * {@link BatchSettings} block of ARGV and the confirmation streams referred to by position
 * ({@link ResponseStreams}), which the list designs' `apply_list_batch` uses too (its entries have
 * their own layout: see `fifo_list_demo/list_batch.ts`).
 * @module
 */
import { LuaScript } from "@fastpix/infra";

/** The script that applies a batch of stream entries. */
export const processBatchScript = LuaScript.fromFile(
  "process_batch",
  "./lua/process_batch.lua",
  import.meta.url,
);

/** KEYS and ARGV of one `process_batch` call. */
export interface Batch {
  keys: string[];
  args: (string | number)[];
}

/** The settings every batch script reads, in this order (`new_batch` in `lua/includes/batch.lua`). */
export interface BatchSettings {
  /** Idempotency mark prefix: a payment's mark is the prefix and its transaction id. */
  markPrefix: string;
  /** How long a mark lives, seconds. */
  markTtlSeconds: number;
  /** Approximate cap of each confirmation stream (MAXLEN ~). */
  responseMaxlen: number;
  /** Confirmation and dead-letter timestamp (ISO 8601). */
  timestamp: string;
  /** The consumer's name (recorded in dead letters). */
  consumerName: string;
}

/** Field names of {@link BatchSettings}, in ARGV order. */
export const BATCH_SETTINGS = [
  "markPrefix",
  "markTtlSeconds",
  "responseMaxlen",
  "timestamp",
  "consumerName",
] as const satisfies readonly (keyof BatchSettings)[];

/** The header of `process_batch`'s ARGV: the consumer group, then the settings. */
export interface BatchHeader extends BatchSettings {
  group: string;
}

/** Field names of {@link BatchHeader}, in ARGV order (ARGV[1] .. ARGV[6]). */
export const BATCH_HEADER = ["group", ...BATCH_SETTINGS] as const satisfies readonly (
  keyof BatchHeader
)[];

/** The settings as ARGV values, in {@link BATCH_SETTINGS} order. */
export function settingsArgs(settings: BatchSettings): (string | number)[] {
  return BATCH_SETTINGS.map((field) => settings[field]);
}

/** A payment that passed validation: confirmed (or a duplicate) and counted once. */
export interface OkEntry {
  kind: "ok";
  /** Stream entry id. */
  id: string;
  tx: string;
  backend: string;
  /** Position of the backend's confirmation stream ({@link ResponseStreams}). */
  responseIndex: number;
  cents: number;
  /** `cents` as a 2-place decimal (the confirmation's processed_amount). */
  amount: string;
  /** The payment's fingerprint (`paymentFingerprint` in `@fastpix/pix`), kept in its mark. */
  fingerprint: string;
  /** How many times it has been delivered (recorded if the script dead-letters it). */
  deliveries: number;
}

/** A payment that is dead-lettered (invalid, or delivered too many times). */
export interface RejectEntry {
  kind: "reject";
  id: string;
  /** As sent ('' when missing). */
  tx: string;
  /** '' when missing or unsafe: it then gets no confirmation. */
  backend: string;
  /** Position of the backend's confirmation stream; 0: none. */
  responseIndex: number;
  deliveries: number;
  errorCode: number;
  reason: string;
  /** The entry's original fields as a JSON object. */
  fieldsJson: string;
}

/** An entry deleted from the stream before it was processed: acknowledged only. */
export interface GoneEntry {
  kind: "gone";
  id: string;
}

/** One entry of a batch. */
export type BatchEntry = OkEntry | RejectEntry | GoneEntry;

/** The kinds of entries, as ARGV spells them. */
export type EntryKind = BatchEntry["kind"];

/**
 * Values per entry: kind, id, tx, backend, response index, then four that depend on the kind
 * (ok: cents, amount, fingerprint, deliveries; reject: deliveries, error code, reason, fields).
 */
export const ENTRY_STRIDE = 9;

/** Lays out `process_batch`'s ARGV: the header, then each entry. */
export function encodeBatchArgs(
  header: BatchHeader,
  entries: Iterable<BatchEntry>,
): (string | number)[] {
  const args = BATCH_HEADER.map((field) => header[field]);
  for (const e of entries) {
    switch (e.kind) {
      case "ok":
        args.push(
          "ok",
          e.id,
          e.tx,
          e.backend,
          e.responseIndex,
          e.cents,
          e.amount,
          e.fingerprint,
          e.deliveries,
        ); // deno-fmt-ignore
        break;
      case "reject":
        args.push(
          "reject",
          e.id,
          e.tx,
          e.backend,
          e.responseIndex,
          e.deliveries,
          e.errorCode,
          e.reason,
          e.fieldsJson,
        ); // deno-fmt-ignore
        break;
      case "gone":
        args.push("gone", e.id, "", "", 0, "", "", "", "");
        break;
    }
  }
  return args;
}

/** Reads the header back out of `process_batch`'s ARGV. */
export function batchHeader(args: readonly (string | number)[]): BatchHeader {
  const [group, markPrefix, markTtlSeconds, responseMaxlen, timestamp, consumerName] = args;
  return {
    group: String(group),
    markPrefix: String(markPrefix),
    markTtlSeconds: Number(markTtlSeconds),
    responseMaxlen: Number(responseMaxlen),
    timestamp: String(timestamp),
    consumerName: String(consumerName),
  };
}

/** Reads the entries back out of `process_batch`'s ARGV, in order. */
export function* batchEntries(args: readonly (string | number)[]): Generator<BatchEntry> {
  if ((args.length - BATCH_HEADER.length) % ENTRY_STRIDE !== 0) {
    throw new Error(`process_batch ARGV of ${args.length} values is not header + entries`);
  }
  for (let i = BATCH_HEADER.length; i < args.length; i += ENTRY_STRIDE) {
    const [kind, id, tx, backend, index, a, b, c, d] = args.slice(i, i + ENTRY_STRIDE);
    const base = { id: String(id), tx: String(tx), backend: String(backend) };
    if (kind === "ok") {
      yield {
        kind,
        ...base,
        responseIndex: Number(index),
        cents: Number(a),
        amount: String(b),
        fingerprint: String(c),
        deliveries: Number(d),
      };
    } else if (kind === "reject") {
      yield {
        kind,
        ...base,
        responseIndex: Number(index),
        deliveries: Number(a),
        errorCode: Number(b),
        reason: String(c),
        fieldsJson: String(d),
      };
    } else if (kind === "gone") {
      yield { kind, id: base.id };
    } else {
      throw new Error(`process_batch ARGV[${i + 1}]: unknown entry kind ${String(kind)}`);
    }
  }
}

/**
 * What a batch script (`process_batch`, `apply_list_batch`) answers: `[confirmed, duplicates,
 * rejected, skipped, totalCents, migration]`. `totalCents` is `total_amount_cents` after the batch
 * as exact text ("0" when nothing was confirmed); `migration` says how the Python original's float
 * `total_amount` was converted to cents by this batch ("" when it was not).
 */
export type BatchReply = [
  confirmed: number,
  duplicates: number,
  rejected: number,
  skipped: number,
  totalCents: string,
  migration: string,
];

/**
 * The confirmation streams of a batch script's call, in the KEYS that follow its fixed keys;
 * entries refer to them by position (1 = the first, 0 = none).
 */
export class ResponseStreams {
  /** The streams' keys, in position order. */
  readonly keys: string[] = [];
  #positions = new Map<string, number>();

  /** `keyOf`: the confirmation stream's key for a backend id. */
  constructor(readonly keyOf: (backendId: string) => string) {}

  /** The position of `backendId`'s confirmation stream, added on first use. */
  positionOf(backendId: string): number {
    let position = this.#positions.get(backendId);
    if (position === undefined) {
      position = this.keys.push(this.keyOf(backendId));
      this.#positions.set(backendId, position);
    }
    return position;
  }
}
