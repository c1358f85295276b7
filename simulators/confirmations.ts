/**
 * Reads confirmations from backend response streams (plain XREAD from where they stood when the
 * watcher started, so a backend sees only answers to what it sent after that). More streams can be
 * added while it runs ({@link ConfirmationWatcher.watch}), e.g. as new backends show up.
 * @module
 */
import {
  type Confirmation,
  createRedis,
  errorMessage,
  type Logger,
  parseConfirmation,
  reconnectDelayMs,
  type Redis,
} from "@fastpix/pix";

type XReadReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

/** Watches response streams and hands every new confirmation to a callback. */
export class ConfirmationWatcher {
  #redis: Redis;
  #keys: string[];
  #ids: string[] = [];
  #stopped = false;
  #done?: Promise<void>;
  #url: string;
  #logger?: Logger;
  #lookup?: Redis;
  #adding = new Map<string, Promise<void>>();
  #keyAdded?: () => void;

  /** Watches `keys` on `url`; call {@link start} before sending payments. */
  constructor(url: string, keys: string[], private readonly logger?: Logger) {
    this.#redis = createRedis(url, { name: "confirmation-watcher", logger });
    this.#keys = keys;
    this.#url = url;
    this.#logger = logger;
  }

  /**
   * Adds `key` (if not watched yet), reading it from where it ends now: call it before sending a
   * payment whose answer goes there. Resolves once the watcher is sure to see later entries.
   */
  watch(key: string): Promise<void> {
    if (this.#keys.includes(key)) return Promise.resolve();
    let adding = this.#adding.get(key);
    if (adding === undefined) {
      this.#lookup ??= createRedis(this.#url, {
        name: "confirmation-lookup",
        logger: this.#logger,
      });
      adding = lastEntryId(this.#lookup, key).then((id) => {
        this.#keys.push(key);
        this.#ids.push(id);
        this.#keyAdded?.();
      }).finally(() => this.#adding.delete(key));
      this.#adding.set(key, adding);
    }
    return adding;
  }

  /** Notes where each stream ends now, then reads from there on until {@link stop}. */
  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    this.#ids = await Promise.all(this.#keys.map((key) => lastEntryId(this.#redis, key)));
    this.#done = this.#loop(onConfirmation);
  }

  async #loop(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      if (this.#keys.length === 0) {
        await new Promise<void>((r) => this.#keyAdded = r);
        continue;
      }
      try {
        const reply = await this.#redis.xread(
          "COUNT",
          5000,
          "BLOCK",
          100,
          "STREAMS",
          ...this.#keys,
          ...this.#ids,
        ) as XReadReply; // deno-fmt-ignore
        failures = 0;
        for (const [key, entries] of reply ?? []) {
          const index = this.#keys.indexOf(key);
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

  /** Stops reading and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#keyAdded?.();
    await this.#done;
    this.#redis.disconnect();
    this.#lookup?.disconnect();
  }
}

/** The id of the last entry of stream `key` ("0-0" when empty or missing). */
async function lastEntryId(redis: Redis, key: string): Promise<string> {
  const last = await redis.xrevrange(key, "+", "-", "COUNT", 1);
  return last.length > 0 ? last[0][0] : "0-0";
}
