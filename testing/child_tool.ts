/**
 * The repo's own commands run as real child processes (consumers for the demo, the benchmarks
 * and the crash tests), with their output captured and their signals under control.
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Options of {@link ChildTool}. */
export interface ChildToolOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Show the child's output on this process's stderr as it comes (default: capture only). */
  echo?: boolean;
  /** Run it with this niceness (`nice -n`): background work yields the CPU to latency-critical work. */
  nice?: number;
}

/** A repo script (path from the repo root) run with `deno run -A` as a child process. */
export class ChildTool {
  #child: Deno.ChildProcess;
  #output: Promise<string>;

  constructor(script: string, options: ChildToolOptions = {}) {
    const args = ["run", "-A", new URL(script, ROOT).pathname, ...(options.args ?? [])];
    const niced = options.nice !== undefined && options.nice !== 0;
    this.#child = new Deno.Command(niced ? "nice" : Deno.execPath(), {
      args: niced ? ["-n", String(options.nice), Deno.execPath(), ...args] : args,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const decode = async (stream: ReadableStream<Uint8Array>) => {
      let text = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        if (options.echo) Deno.stderr.writeSync(new TextEncoder().encode(chunk));
      }
      return text;
    };
    this.#output = Promise.all([decode(this.#child.stdout), decode(this.#child.stderr)])
      .then(([out, err]) => out + err);
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends a signal: SIGKILL is a crash, SIGTERM/SIGINT a graceful stop. */
  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Waits for the exit; resolves to the exit code and everything it printed. */
  async finished(): Promise<{ code: number; output: string }> {
    const status = await this.#child.status;
    return { code: status.code, output: await this.#output };
  }
}

/** Starts the stream consumer (`deno task consume`) as a child process. */
export function spawnConsumer(
  redisUrl: string,
  options: { name: string; args?: string[]; env?: Record<string, string>; echo?: boolean },
): ChildTool {
  return new ChildTool("consumer/consume_command.ts", {
    args: options.args,
    env: { REDIS_URL: redisUrl, CONSUMER_NAME: options.name, ...options.env },
    echo: options.echo,
  });
}
