/**
 * Reads confirmations from backend response streams (plain XREAD from where they stood when the
 * watcher started, so a backend sees only answers to what it sent after that).
 * On a Redis Cluster one XREAD cannot span slots: the keys are grouped by slot and each group is
 * read by its own loop on its own connection (a blocking read holds its connection).
 * @module
 */
import keySlot from "cluster-key-slot";
import {
  type Confirmation,
  createClient,
  errorMessage,
  isCluster,
  type Logger,
  parseConfirmation,
  reconnectDelayMs,
  type RedisClient,
  type RedisTarget,
} from "@fastpix/pix";

type XReadReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

/** One XREAD loop over keys that share a slot (all keys, on a single node). */
class KeyGroupReader {
  readonly redis: RedisClient;
  #ids: string[] = [];
  #stopped = false;
  #done?: Promise<void>;

  constructor(target: RedisTarget, readonly keys: string[], private readonly logger?: Logger) {
    this.redis = createClient(target, { name: "confirmation-watcher", logger });
  }

  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    this.#ids = await Promise.all(this.keys.map(async (key) => {
      const last = await this.redis.xrevrange(key, "+", "-", "COUNT", 1);
      return last.length > 0 ? last[0][0] : "0-0";
    }));
    this.#done = this.#loop(onConfirmation);
  }

  async #loop(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
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
        await new Promise((r) => setTimeout(r, reconnectDelayMs(++failures)));
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    this.redis.disconnect();
  }
}

/** Watches response streams and hands every new confirmation to a callback. */
export class ConfirmationWatcher {
  #readers: KeyGroupReader[];

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
  }

  /** Notes where each stream ends now, then reads from there on until {@link stop}. */
  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    await Promise.all(this.#readers.map((r) => r.start(onConfirmation)));
  }

  /** Stops reading and closes the connections. */
  async stop(): Promise<void> {
    await Promise.all(this.#readers.map((r) => r.stop()));
  }
}
