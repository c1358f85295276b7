/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis has lost its script cache
 * (after a restart), so callers never see NOSCRIPT.
 * @module
 */
import { Cluster } from "ioredis";
import type { RedisClient } from "./redis.ts";

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A Lua script with its KEYS and ARGV documented in its header. */
export class LuaScript {
  #sha: Promise<string>;

  /** Wraps `source`; `name` appears in errors. */
  constructor(readonly name: string, readonly source: string) {
    this.#sha = sha1Hex(source);
  }

  /** Reads a script file that sits beside the module at `base` (pass `import.meta.url`). */
  static fromFile(name: string, relativePath: string, base: string): LuaScript {
    return new LuaScript(name, Deno.readTextFileSync(new URL(relativePath, base)));
  }

  /** Runs the script on `redis`. */
  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const sha = await this.#sha;
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /**
   * Runs the script, then `WAIT replicas timeoutMs` on the same connection (a pipeline: on a
   * cluster it goes to the node that ran the script); resolves to the script's reply and how many
   * replicas acknowledged its writes.
   */
  async runAndWait(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
    wait: { replicas: number; timeoutMs: number },
  ): Promise<{ reply: unknown; replicas: number }> {
    const sha = await this.#sha;
    const attempt = async (useSource: boolean) => {
      const pipeline = redis.pipeline();
      if (useSource) pipeline.eval(this.source, keys.length, ...keys, ...args);
      else pipeline.evalsha(sha, keys.length, ...keys, ...args);
      pipeline.wait(wait.replicas, wait.timeoutMs);
      const results = await pipeline.exec();
      if (results === null) throw new Error(`${this.name}: the pipeline was discarded`);
      const [[error, reply], [waitError, replicas]] = results;
      if (error && redis instanceof Cluster && /^(MOVED|ASK) /.test(error.message)) {
        // The keyless WAIT succeeded where the script was redirected, so ioredis does not treat
        // the pipeline as moved and keeps its stale slot map: refresh it before the caller retries.
        await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      }
      if (error) throw error;
      if (waitError) throw waitError;
      return { reply, replicas: Number(replicas) };
    };
    try {
      return await attempt(false);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await attempt(true);
    }
  }
}
