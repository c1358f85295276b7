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

/** One XREAD loop over keys that share a slot (all keys, on a single node). */
class KeyGroupReader {
  readonly redis: RedisClient;
  #ids: string[] = [];
  #stopped = false;
  #done?: Promise<void>;
  #keyAdded?: () => void;

  constructor(target: RedisTarget, readonly keys: string[], private readonly logger?: Logger) {
    this.redis = createClient(target, {
      name: "confirmation-watcher",
      logger,
      commandTimeoutMs: 15_000, // reads block 100 ms: silence this long means a dead socket
    });
  }

  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    this.#ids = await Promise.all(this.keys.map((key) => lastEntryId(this.redis, key)));
    this.#done = this.#loop(onConfirmation);
  }

  /** Reads `key` too, from after entry `id` (the next read picks it up). */
  add(key: string, id: string): void {
    this.keys.push(key);
    this.#ids.push(id);
    this.#keyAdded?.();
  }

  async #loop(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      if (this.keys.length === 0) {
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
          ...this.keys,
          ...this.#ids,
        ) as XReadReply; // deno-fmt-ignore
        failures = 0;
        for (const [key, entries] of reply ?? []) {
          const index = this.keys.indexOf(key);
          for (const [, fields] of entries) onConfirmation(parseConfirmation(fields), key);
          if (entries.length > 0) this.#ids[index] = entries[entries.length - 1][0];
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
  #onConfirmation?: (c: Confirmation, key: string) => void;
  #lookup?: RedisClient;
  #adding = new Map<string, Promise<void>>();

  /**
   * Watches `keys` on `target` (a URL, or a {@link RedisTarget} that may name a cluster); call
   * {@link start} before sending payments.
   */
  constructor(target: string | RedisTarget, keys: string[], logger?: Logger) {
    const t = typeof target === "string" ? { url: target } : target;
    const groups = new Map<number, string[]>();
    for (const key of keys) {
      const slot = isCluster(t) ? keySlot(key) : 0;
      groups.set(slot, [...groups.get(slot) ?? [], key]);
    }
    this.#readers = [...groups.values()].map((group) => new KeyGroupReader(t, group, logger));
    this.#target = t;
    this.#logger = logger;
  }

  /** Notes where each stream ends now, then reads from there on until {@link stop}. */
  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    this.#onConfirmation = onConfirmation;
    await Promise.all(this.#readers.map((r) => r.start(onConfirmation)));
  }

  /**
   * Adds `key` (if not watched yet), read from where it ends now: call it, after {@link start},
   * before sending a payment whose answer goes there. Resolves once later entries will be seen.
   */
  watch(key: string): Promise<void> {
    if (this.#readers.some((r) => r.keys.includes(key))) return Promise.resolve();
    let adding = this.#adding.get(key);
    if (adding === undefined) {
      adding = this.#add(key).finally(() => this.#adding.delete(key));
      this.#adding.set(key, adding);
    }
    return adding;
  }

  async #add(key: string): Promise<void> {
    if (this.#onConfirmation === undefined) throw new Error("Call start() before watch()");
    const cluster = isCluster(this.#target);
    const reader = this.#readers.find((r) =>
      r.keys.length === 0 || !cluster || keySlot(r.keys[0]) === keySlot(key)
    );
    if (reader === undefined) {
      // A slot no reader covers yet: a new reader notes where the stream ends as it starts.
      const fresh = new KeyGroupReader(this.#target, [key], this.#logger);
      await fresh.start(this.#onConfirmation);
      this.#readers.push(fresh);
      return;
    }
    // The reader's own connection is blocked in XREAD: look the last id up on another one.
    this.#lookup ??= createClient(this.#target, {
      name: "confirmation-lookup",
      logger: this.#logger,
    });
    reader.add(key, await lastEntryId(this.#lookup, key));
  }

  /** Stops reading and closes the connections. */
  async stop(): Promise<void> {
    await Promise.all(this.#readers.map((r) => r.stop()));
    this.#lookup?.disconnect();
  }
}
