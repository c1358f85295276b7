/**
 * Every dead letter counted by error code, exactly, without reading the whole dead-letter stream on
 * each refresh: each refresh reads the dead letters added since the last one (one `XRANGE` page) and
 * `XINFO STREAM`. Dead letters are also removed (`deno task dlq` replays and purges them); a removal
 * shows as a change of `entries-added − length` (entries ever deleted), and the count starts over.
 * The last complete count is what {@link DlqCodeCounter.codes} gives while a new one catches up.
 * Codes that are not ours are counted as `other`, so the number of codes stays bounded.
 * @module
 */
import { ErrorCode } from "@fastpix/pix";

/** An error code and how many dead letters carry it (the snapshot's `ErrorCodeCount`). */
export interface CodeCount {
  code: string;
  /** The code's name (`MAX_DELIVERIES_EXCEEDED`); null for `none` and `other`. */
  name: string | null;
  count: number;
}

const NAMES = new Map<string, string>(
  Object.entries(ErrorCode).map(([name, code]) => [String(code), name]),
);

/** The label a dead letter's `error_code` is counted under: ours, `none` (no code) or `other`. */
export function codeLabel(code: unknown): string {
  if (code === undefined || code === null || code === "") return "none";
  const text = String(code);
  return NAMES.has(text) ? text : "other";
}

/** What `XINFO STREAM` says of the dead-letter stream (undefined: it does not exist). */
export interface DlqStreamInfo {
  length: number;
  /** `entries-added` (null on a Redis without it: the count is then never complete). */
  entriesAdded: number | null;
}

/** Incremental exact count of dead letters by error code. */
export class DlqCodeCounter {
  readonly pageSize: number;
  #lastId = "0-0";
  #counts = new Map<string, number>();
  #deleted: number | null = null;
  #published: Map<string, number> | undefined;
  #resets = 0;

  constructor(pageSize = 10_000) {
    this.pageSize = pageSize;
  }

  /** The two commands of one refresh, in order: the next page of dead letters, then the stream. */
  commands(key: string): [[string, ...(string | number)[]], [string, ...string[]]] {
    return [
      ["XRANGE", key, `(${this.#lastId}`, "+", "COUNT", this.pageSize],
      ["XINFO", "STREAM", key],
    ];
  }

  /** Applies the replies of {@link commands}: `page` (XRANGE) and `info` (undefined: no stream). */
  apply(page: unknown, info: DlqStreamInfo | undefined): void {
    if (info === undefined || info.length === 0) {
      // No dead letters at all: an exact (empty) count.
      const added = info?.entriesAdded ?? null;
      this.#restart(added === null ? null : added - info!.length);
      this.#published = new Map();
      return;
    }
    if (info.entriesAdded === null) return;
    const deleted = info.entriesAdded - info.length;
    if (this.#deleted === null) this.#deleted = deleted;
    else if (this.#deleted !== deleted) {
      // Dead letters were removed since the last read: count again from the start.
      this.#resets++;
      this.#restart(deleted);
      return;
    }
    const entries = Array.isArray(page) ? page : [];
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const fields = Array.isArray(entry[1]) ? entry[1] : [];
      let code: unknown;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === "error_code") code = fields[i + 1];
      }
      const label = codeLabel(code);
      this.#counts.set(label, (this.#counts.get(label) ?? 0) + 1);
      this.#lastId = String(entry[0]);
    }
    if (entries.length < this.pageSize) {
      // A short page: every dead letter up to now is counted, and never more than there are (more
      // would mean some were removed between the two commands: count again).
      const counted = [...this.#counts.values()].reduce((n, c) => n + c, 0);
      if (counted > info.length) {
        this.#resets++;
        this.#restart(null);
        return;
      }
      this.#published = new Map(this.#counts);
    }
  }

  #restart(deleted: number | null): void {
    this.#deleted = deleted;
    this.#lastId = "0-0";
    this.#counts = new Map();
  }

  /** Times the count started over because dead letters were removed. */
  get resets(): number {
    return this.#resets;
  }

  /** The last complete count, most frequent first (undefined until one is complete). */
  codes(): CodeCount[] | undefined {
    if (this.#published === undefined) return undefined;
    return [...this.#published].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([code, count]) => ({ code, name: NAMES.get(code) ?? null, count }));
  }
}
