/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis has lost its script cache
 * (after a restart), so callers never see NOSCRIPT.
 * @module
 */
import type { Redis } from "ioredis";

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
    redis: Redis,
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
}
