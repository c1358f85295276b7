/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis has lost its script cache
 * (after a restart), so callers never see NOSCRIPT. Script files may share Lua through include
 * files, joined in when the script is loaded (see {@link assembleLua}).
 * @module
 */
import { Cluster } from "ioredis";
import type { RedisClient } from "./redis.ts";

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A line that asks for an include file: `--@include "<path relative to this file>"`. */
const INCLUDE_LINE = /^\s*--@include\b(.*)$/;
const INCLUDE_PATH = /^\s+"([^"]+)"\s*$/;

/** A script file with its include files joined in. */
export interface AssembledLua {
  /** The script's text, every include directive replaced by the included file's text. */
  source: string;
  /** Every file joined in, as absolute file URLs, in the order they were first included. */
  includes: string[];
}

/**
 * Reads the Lua file at `url` and replaces each line `--@include "path"` (path relative to the
 * file that holds the line) with that file's text, recursively; a file is joined in once, where it
 * is first asked for, and later requests for it are dropped. A `#!lua` line (script flags) stays
 * the first line: only the script itself may have one. An include that cannot be read, or a
 * directive that is not of that form, throws an error naming the file and the line.
 */
export function assembleLua(url: URL): AssembledLua {
  const includes: string[] = [];
  const seen = new Set([url.href]);
  const join = (file: URL, from?: { file: URL; line: number }): string => {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      if (from === undefined) throw error;
      const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
      throw new Error(
        `${from.file.pathname}:${from.line}: cannot include ${file.pathname}: ${reason}`,
      );
    }
    const lines = text.split("\n");
    if (from !== undefined && lines[0].startsWith("#!")) {
      throw new Error(`${file.pathname}:1: an include file cannot carry a #! line (script flags)`);
    }
    const body = lines.flatMap((line, i) => {
      const directive = INCLUDE_LINE.exec(line);
      if (directive === null) return [line];
      const path = INCLUDE_PATH.exec(directive[1])?.[1];
      if (path === undefined) {
        throw new Error(
          `${file.pathname}:${i + 1}: expected --@include "<path>", got ${line.trim()}`,
        );
      }
      const included = new URL(path, file);
      if (seen.has(included.href)) return [];
      seen.add(included.href);
      includes.push(included.href);
      return [join(included, { file, line: i + 1 })];
    }).join("\n");
    // An included file's last newline would leave a blank line where the directive was.
    return from === undefined ? body : body.replace(/\n$/, "");
  };
  return { source: join(url), includes };
}

/** A Lua script with its KEYS and ARGV documented in its header. */
export class LuaScript {
  #sha: Promise<string>;

  /**
   * Wraps `source`; `name` appears in errors. `includes`: the files joined into `source`
   * ({@link assembleLua}).
   */
  constructor(
    readonly name: string,
    readonly source: string,
    readonly includes: readonly string[] = [],
  ) {
    this.#sha = sha1Hex(source);
  }

  /**
   * Reads a script file that sits beside the module at `base` (pass `import.meta.url`), with its
   * include files joined in ({@link assembleLua}).
   */
  static fromFile(name: string, relativePath: string, base: string): LuaScript {
    const { source, includes } = assembleLua(new URL(relativePath, base));
    return new LuaScript(name, source, includes);
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
