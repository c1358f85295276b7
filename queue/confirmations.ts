/**
 * Reads confirmations from backend response streams (plain XREAD from where they stood when the
 * watcher started, so a backend sees only answers to what it sent after that).
 * On a Redis Cluster one XREAD cannot span slots: the keys are grouped by slot and each group is
 * read by its own loop on its own connection (a blocking read holds its connection).
 * More streams can be added while it runs ({@link ConfirmationWatcher.watch}), e.g. as new backends
 * show up.
 * @module
 */
import keySlot from "cluster-key-slot";
import { type Confirmation, parseConfirmation } from "@fastpix/pix";
import {
  backoffMs,
  createClient,
  errorMessage,
  isCluster,
  isCommandTimeout,
  type Logger,
  type RedisClient,
  type RedisTarget,
  sleep,
} from "@fastpix/infra";

type XReadReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

/** Most keys one XREAD spans: a group's call stays cheap however many backends are watched. */
export const KEYS_PER_READER = 256;

/** One XREAD loop over keys that share a slot (all keys, on a single node). */
class KeyGroupReader {
  readonly redis: RedisClient;
  /** Each key read, and the id of the last entry seen on it. */
  readonly keys = new Map<string, string>();
  #stopped = false;
  #done?: Promise<void>;
  #keyAdded?: () => void;

  constructor(
    target: RedisTarget,
    readonly slot: number,
    keys: string[],
    private readonly logger?: Logger,
  ) {
    for (const key of keys) this.keys.set(key, "");
    this.redis = createClient(target, {
      name: "confirmation-watcher",
      logger,
      commandTimeoutMs: 15_000, // reads block 100 ms: silence this long means a dead socket
    });
  }

  /** Notes where each key whose position is not known yet ends now, then reads until stopped. */
  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    const keys = [...this.keys].filter(([, id]) => id === "").map(([key]) => key);
    const ids = await Promise.all(keys.map((key) => lastEntryId(this.redis, key)));
    keys.forEach((key, i) => this.keys.set(key, ids[i]));
    this.#done = this.#loop(onConfirmation);
  }

  /** Reads `key` too, from after entry `id` (the next read picks it up). */
  add(key: string, id: string): void {
    this.keys.set(key, id);
    this.#keyAdded?.();
  }

  /** Stops reading `key` (from the next read on). */
  remove(key: string): void {
    this.keys.delete(key);
  }

  async #loop(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      if (this.keys.size === 0) {
        await new Promise<void>((r) => this.#keyAdded = r);
        continue;
      }
      try {
        const reply = await this.redis.xread(
          "COUNT",
          5000,
          "BLOCK",
          100,
          "STREAMS",
          ...this.keys.keys(),
          ...this.keys.values(),
        ) as XReadReply; // deno-fmt-ignore
        failures = 0;
        for (const [key, entries] of reply ?? []) {
          for (const [, fields] of entries) onConfirmation(parseConfirmation(fields), key);
          // A key dropped during the read stays dropped.
          if (entries.length > 0 && this.keys.has(key)) {
            this.keys.set(key, entries[entries.length - 1][0]);
          }
        }
      } catch (error) {
        if (this.#stopped) break;
        this.logger?.warn(`reading confirmations failed: ${errorMessage(error)}; retrying`);
        if (isCommandTimeout(error)) this.redis.disconnect(true); // a silent socket: start afresh
        await sleep(backoffMs(++failures));
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#keyAdded?.();
    await this.#done;
    this.redis.disconnect();
  }
}

/** The id of the last entry of stream `key` ("0-0" when empty or missing). */
async function lastEntryId(redis: RedisClient, key: string): Promise<string> {
  const last = await redis.xrevrange(key, "+", "-", "COUNT", 1);
  return last.length > 0 ? last[0][0] : "0-0";
}

/** Watches response streams and hands every new confirmation to a callback. */
export class ConfirmationWatcher {
  #readers: KeyGroupReader[];
  #target: RedisTarget;
  #logger?: Logger;
  #keysPerReader: number;
  #onConfirmation?: (c: Confirmation, key: string) => void;
  #lookup?: RedisClient;
  #adding = new Map<string, Promise<void>>();
  #stopping = new Set<Promise<void>>();

  /**
   * Watches `keys` on `target` (a URL, or a {@link RedisTarget} that may name a cluster); call
   * {@link start} before sending payments. One XREAD spans at most `keysPerReader` keys (default
   * {@link KEYS_PER_READER}): more keys are read by more loops, each on its own connection.
   */
  constructor(
    target: string | RedisTarget,
    keys: string[],
    logger?: Logger,
    options: { keysPerReader?: number } = {},
  ) {
    const t = typeof target === "string" ? { url: target } : target;
    this.#keysPerReader = options.keysPerReader ?? KEYS_PER_READER;
    const groups = new Map<number, string[][]>();
    for (const key of new Set(keys)) {
      const slot = isCluster(t) ? keySlot(key) : 0;
      const chunks = groups.get(slot) ?? [];
      if (chunks.length === 0 || chunks[chunks.length - 1].length >= this.#keysPerReader) {
        chunks.push([]);
      }
      chunks[chunks.length - 1].push(key);
      groups.set(slot, chunks);
    }
    this.#readers = [...groups].flatMap(([slot, chunks]) =>
      chunks.map((chunk) => new KeyGroupReader(t, slot, chunk, logger))
    );
    this.#target = t;
    this.#logger = logger;
  }

  /** Notes where each stream ends now, then reads from there on until {@link stop}. */
  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    this.#onConfirmation = onConfirmation;
    await Promise.all(this.#readers.map((r) => r.start(onConfirmation)));
  }

  /** How many streams are watched now. */
  get size(): number {
    return this.#readers.reduce((n, r) => n + r.keys.size, 0);
  }

  /** How many read loops (each one connection, one XREAD at a time) run now. */
  get readers(): number {
    return this.#readers.length;
  }

  /** Whether `key` is watched (or being added). */
  watching(key: string): boolean {
    return this.#adding.has(key) || this.#readers.some((r) => r.keys.has(key));
  }

  /**
   * Adds `key` (if not watched yet), read from where it ends now: call it, after {@link start},
   * before sending a payment whose answer goes there. Resolves once later entries will be seen.
   */
  watch(key: string): Promise<void> {
    if (this.#readers.some((r) => r.keys.has(key))) return Promise.resolve();
    let adding = this.#adding.get(key);
    if (adding === undefined) {
      adding = this.#add(key).finally(() => this.#adding.delete(key));
      this.#adding.set(key, adding);
    }
    return adding;
  }

  async #add(key: string): Promise<void> {
    const onConfirmation = this.#onConfirmation;
    if (onConfirmation === undefined) throw new Error("Call start() before watch()");
    // The readers' connections are blocked in XREAD: look the last id up on another one.
    this.#lookup ??= createClient(this.#target, {
      name: "confirmation-lookup",
      logger: this.#logger,
    });
    const id = await lastEntryId(this.#lookup, key);
    // Chosen after the lookup, so a reader emptied (and stopped) meanwhile is not picked.
    const slot = isCluster(this.#target) ? keySlot(key) : 0;
    let reader = this.#readers.find((r) => r.slot === slot && r.keys.size < this.#keysPerReader);
    if (reader === undefined) {
      reader = new KeyGroupReader(this.#target, slot, [], this.#logger);
      reader.add(key, id);
      this.#readers.push(reader);
      await reader.start(onConfirmation);
      return;
    }
    reader.add(key, id);
  }

  /**
   * Stops watching `key` (from the next read on); a read loop left with no key closes its
   * connection. Confirmations written there meanwhile are not seen, even if it is watched again.
   */
  unwatch(key: string): void {
    const index = this.#readers.findIndex((r) => r.keys.has(key));
    if (index < 0) return;
    const reader = this.#readers[index];
    reader.remove(key);
    if (reader.keys.size === 0) {
      this.#readers.splice(index, 1);
      const stopping: Promise<void> = reader.stop().finally(() => this.#stopping.delete(stopping));
      this.#stopping.add(stopping);
    }
  }

  /** Stops reading and closes the connections. */
  async stop(): Promise<void> {
    await Promise.all([...this.#readers.map((r) => r.stop()), ...this.#stopping]);
    this.#lookup?.disconnect();
  }
}
