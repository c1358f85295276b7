/**
 * Gateway processes for the harnesses (`bench:gateway`, `k6`) and the tests: `deno task gateway`
 * as a child on a given port, ready once it answers `/metrics` itself.
 * @module
 */
import { ChildTool } from "@fastpix/testing";
import { sleep } from "@fastpix/infra";

/** Options of {@link startGatewayProcess}. */
export interface GatewayProcessOptions {
  redisUrl: string;
  port: number;
  /** More flags for `deno task gateway` (`--design list`, `--batch-max 1`, ...). */
  args?: string[];
  env?: Record<string, string>;
  echo?: boolean;
  /** The gateway script (default `gateway/gateway_command.ts`; an absolute path for another checkout). */
  script?: string;
  /** Join this port stack (`--port-stack`: the caller claimed the port with `claimPort`). */
  stack?: string;
}

/** A gateway child process. */
export interface GatewayProcess {
  tool: ChildTool;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `deno task gateway` on 127.0.0.1:`port` and waits (up to 20 s) until this very process
 * answers (its pid in `fastpix_gateway_info`).
 */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const tool = new ChildTool(options.script ?? "gateway/gateway_command.ts", {
    args: [
      "--port",
      String(options.port),
      "--hostname",
      "127.0.0.1",
      ...(options.stack === undefined ? [] : ["--port-stack", options.stack]),
      ...(options.args ?? []),
    ],
    env: { REDIS_URL: options.redisUrl, LOG_LEVEL: "warn", ...options.env },
    echo: options.echo,
  });
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    tool.kill("SIGTERM");
    await tool.finished();
  };
  let exited = false;
  const exit = tool.finished().then((r) => {
    exited = true;
    return r;
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !exited) {
    // A new connection each time: with reusePort another process may answer on this port.
    const fresh = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const response = await fetch(`${url}/metrics`, { client: fresh });
      const page = await response.text();
      if (response.ok && page.includes(`fastpix_gateway_info{pid="${tool.pid}"}`)) {
        return { tool, url, stop };
      }
    } catch {
      /* not listening yet */
    } finally {
      fresh.close();
    }
    await sleep(100);
  }
  if (!exited) await stop();
  const { output } = await exit;
  throw new Error(`The gateway on port ${options.port} did not start: ${output.trim()}`);
}
