/**
 * Reads confirmations from backend response streams (plain XREAD from where they stood when the
 * watcher started, so a backend sees only answers to what it sent after that).
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

  /** Watches `keys` on `url`; call {@link start} before sending payments. */
  constructor(url: string, keys: string[], private readonly logger?: Logger) {
    this.#redis = createRedis(url, { name: "confirmation-watcher", logger });
    this.#keys = keys;
  }

  /** Notes where each stream ends now, then reads from there on until {@link stop}. */
  async start(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    this.#ids = await Promise.all(this.#keys.map(async (key) => {
      const last = await this.#redis.xrevrange(key, "+", "-", "COUNT", 1);
      return last.length > 0 ? last[0][0] : "0-0";
    }));
    this.#done = this.#loop(onConfirmation);
  }

  async #loop(onConfirmation: (c: Confirmation, key: string) => void): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
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
    await this.#done;
    this.#redis.disconnect();
  }
}
