/**
 * Key discovery with `SCAN` (never `KEYS`), spread over refreshes: each refresh adds one `SCAN`
 * step to its pipeline, so a keyspace of millions of idempotency marks never stalls a refresh.
 * `MATCH` and `TYPE` filter on the server, so a step's reply holds only candidate keys.
 * Discovered keys are cached; a key is dropped when a full pass ends without it (it was deleted)
 * or when reading it shows it is gone or of another type.
 * @module
 */

/** What kind of key a prefix finds. */
export type KeyKind = "response" | "source_list" | "processing_list";

/** A prefix and the kind of key it finds. */
export interface KeyPattern {
  prefix: string;
  kind: KeyKind;
}

/** Options of {@link KeyScanner}. */
export interface KeyScannerOptions {
  /** `COUNT` hint of each step (keys the server looks at). Default 1000. */
  count?: number;
  /** `TYPE` filter of each step (`stream`, `list`). */
  type?: string;
  /** Send a `MATCH` for the first pattern's prefix (when there is one pattern). */
  match?: boolean;
}

/** Escapes the glob characters of a `SCAN MATCH` pattern. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Incremental `SCAN` state: the cursor of the pass in progress and the keys found so far. */
export class KeyScanner {
  #patterns: readonly KeyPattern[];
  #cursor = "0";
  #known = new Map<string, KeyKind>();
  #seenThisPass = new Set<string>();
  #passes = 0;
  #filters: string[];

  constructor(patterns: readonly KeyPattern[], options: KeyScannerOptions = {}) {
    this.#patterns = patterns;
    this.#filters = ["COUNT", String(options.count ?? 1000)];
    if (options.match && patterns.length === 1) {
      this.#filters.push("MATCH", `${globEscape(patterns[0].prefix)}*`);
    }
    if (options.type) this.#filters.push("TYPE", options.type);
  }

  /** The arguments of the next `SCAN` step: cursor, then `COUNT`/`MATCH`/`TYPE`. */
  args(): string[] {
    return [this.#cursor, ...this.#filters];
  }

  /** Full passes over the keyspace completed so far. */
  get passes(): number {
    return this.#passes;
  }

  /** True once one full pass has completed: the known keys are then all the keys. */
  get complete(): boolean {
    return this.#passes > 0;
  }

  /** The kind of `key` by its prefix, or undefined when no pattern matches. */
  classify(key: string): KeyKind | undefined {
    return this.#patterns.find((p) => key.startsWith(p.prefix))?.kind;
  }

  /** Applies the reply of one `SCAN` step: `[nextCursor, keys]`. */
  apply(reply: [string, string[]]): void {
    const [next, keys] = reply;
    for (const key of keys) {
      const kind = this.classify(key);
      if (kind === undefined) continue;
      this.#known.set(key, kind);
      this.#seenThisPass.add(key);
    }
    this.#cursor = next;
    if (next !== "0") return;
    // A key that existed during the whole pass was returned by it; the others were deleted.
    for (const key of this.#known.keys()) {
      if (!this.#seenThisPass.has(key)) this.#known.delete(key);
    }
    this.#seenThisPass.clear();
    this.#passes++;
  }

  /** Forgets a key that reading showed to be gone or of another type. */
  forget(key: string): void {
    this.#known.delete(key);
  }

  /** The known keys of one kind, sorted. */
  keys(kind: KeyKind): string[] {
    return [...this.#known].filter(([, k]) => k === kind).map(([key]) => key).sort(naturalCompare);
  }
}

const collator = new Intl.Collator("en", { numeric: true });

/** Natural order: `backend_2` before `backend_10`. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}
