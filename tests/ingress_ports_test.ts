/**
 * Port sharing only on purpose, with the real commands as child processes: a second, unrelated
 * gateway or Rinha stack on a taken port stops with one line and a non-zero exit (instead of the
 * kernel silently splitting the traffic between them), while the processes of one stack
 * (`gateway --workers N`, `rinha start`) share it; a lock left by a dead command is taken over.
 */
import assert from "node:assert/strict";
import { parsePrometheusText } from "@fastpix/gateway";
import { portLockPath, readPortLock } from "@fastpix/http";
import { freePort } from "@fastpix/testing";
import { client, INTEGRATION, startRedis, waitFor } from "./_helpers.ts";
import { postText, RawConnection } from "./_http_client.ts";
import { ServerProcess } from "./_server_process.ts";

const EXIT_USER_ERROR = 2;

/** The single line a refused command printed (it must be one). */
async function oneLine(process: ServerProcess): Promise<string> {
  const code = await process.exit;
  const output = (await process.output()).trim();
  assert.equal(code, EXIT_USER_ERROR, output);
  assert.equal(output.split("\n").length, 1, `more than one line:\n${output}`);
  return output;
}

/** POSTs over a fresh connection; resolves to the status. */
async function postFresh(port: number, path: string, body: string): Promise<number> {
  const c = await RawConnection.open(port);
  try {
    await c.write(postText(path, body, "Connection: close\r\n"));
    return (await c.response())?.status ?? 0;
  } finally {
    c.close();
  }
}

/** The pid of the gateway process that answers a fresh connection. */
async function answeringPid(gateway: ServerProcess): Promise<string> {
  const page = parsePrometheusText(await (await gateway.get("/metrics")).text());
  return page.samples.find((s) => s.name === "fastpix_gateway_info")!.labels.pid;
}

Deno.test(
  "a second gateway on a taken port exits 2 with one line; the first keeps all the traffic",
  INTEGRATION,
  async () => {
    await using first = await startRedis();
    await using other = await startRedis();
    const port = freePort();
    const a = new ServerProcess("gateway", port, first.url);
    try {
      await a.ready();
      // Pointed at another Redis: had it joined, it would have taken some of the payments.
      const b = new ServerProcess("gateway", port, other.url);
      const line = await oneLine(b);
      assert.match(line, new RegExp(`^gateway: Cannot listen on port ${port}: it is in use`));
      assert.match(line, /--workers/);
      for (let i = 0; i < 20; i++) {
        assert.equal(
          await postFresh(port, "/pix/payments", '{"backend_id":"1","amount":"1.00"}'),
          202,
        );
      }
      const one = client(first.url);
      const two = client(other.url);
      await waitFor("20 entries", async () => await one.xlen("pix_payments") === 20);
      assert.equal(await two.exists("pix_payments"), 0);
      one.disconnect();
      two.disconnect();
    } finally {
      await a.stop();
    }
  },
); // deno-fmt-ignore

Deno.test(
  "gateway --workers 2 shares its port between its own processes only; SIGTERM stops them and frees the port",
  INTEGRATION,
  async () => {
    await using redis = await startRedis();
    await using other = await startRedis();
    const port = freePort();
    const stack = new ServerProcess("gateway", port, redis.url, { args: ["--workers", "2"] });
    try {
      await stack.ready();
      const lock = readPortLock(port);
      assert.equal(lock?.pid, stack.pid);
      const pids = new Set<string>();
      await waitFor("both workers to answer", async () => {
        pids.add(await answeringPid(stack));
        return pids.size === 2;
      });
      assert.ok(!pids.has(String(stack.pid)), "the supervising command does not serve");

      const strangerStack = new ServerProcess("gateway", port, other.url, { args: ["--workers", "2"] });
      assert.match(
        await oneLine(strangerStack),
        new RegExp(`Cannot listen on port ${port}: gateway --workers 2 \\(pid ${stack.pid}\\) holds it`),
      );
      const strangerSolo = new ServerProcess("gateway", port, other.url);
      assert.match(await oneLine(strangerSolo), /it is in use/);
      const guessed = new ServerProcess("gateway", port, other.url, { args: ["--port-stack", "guess"] });
      assert.match(await oneLine(guessed), /holds it/);
      assert.equal(readPortLock(port)?.pid, stack.pid, "the refused ones left the lock alone");
    } finally {
      assert.equal(await stack.stop().then(() => stack.exit), 0);
    }
    assert.equal(readPortLock(port), undefined, "the lock is removed");
    await assert.rejects(() => Deno.stat(portLockPath(port)), Deno.errors.NotFound);
    const after = new ServerProcess("gateway", port, other.url);
    await after.ready();
    await after.stop();
  },
); // deno-fmt-ignore

Deno.test(
  "a lock left by a dead command, or by a reused pid, is taken over",
  INTEGRATION,
  async () => {
    await using redis = await startRedis();
    const { pid: deadPid } = new Deno.Command("true").spawn();
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const owner of [
      { pid: deadPid, stack: "old", what: "gateway --workers 3" },
      // This very process, but started at another time: the pid was reused.
      { pid: Deno.pid, started: "1", stack: "old", what: "gateway --workers 3" },
    ]) {
      const port = freePort();
      Deno.writeTextFileSync(portLockPath(port), JSON.stringify({ ...owner, port }));
      const stack = new ServerProcess("gateway", port, redis.url, { args: ["--workers", "2"] });
      try {
        await stack.ready();
        assert.equal(readPortLock(port)?.pid, stack.pid);
      } finally {
        await stack.stop();
      }
    }
  },
); // deno-fmt-ignore

Deno.test(
  "a second rinha start (or a lone rinha api) on a taken port exits 2 with one line; the first keeps serving",
  INTEGRATION,
  async () => {
    await using redis = await startRedis();
    await using other = await startRedis();
    const port = freePort();
    const sims = [freePort(), freePort()];
    const first = new ServerProcess("rinha-start", port, redis.url, {
      args: ["--simulator-ports", sims.join(","), "--apis", "2", "--workers", "1"],
    });
    try {
      await first.ready();
      const second = new ServerProcess("rinha-start", port, other.url, {
        args: [
          "--processor-default-url", `http://127.0.0.1:${sims[0]}`,
          "--processor-fallback-url", `http://127.0.0.1:${sims[1]}`,
          "--apis", "1", "--workers", "1",
        ],
      });
      assert.match(
        await oneLine(second),
        new RegExp(`^rinha: Cannot listen on port ${port}: rinha start \\(pid ${first.pid}\\) holds it`),
      );
      const lone = new ServerProcess("rinha", port, other.url);
      assert.match(await oneLine(lone), new RegExp(`Cannot listen on port ${port}: it is in use`));
      for (let i = 0; i < 10; i++) {
        const body = `{"correlationId":"${crypto.randomUUID()}","amount":19.90}`;
        assert.equal(await postFresh(port, "/payments", body), 202);
      }
      const one = client(redis.url);
      const two = client(other.url);
      assert.equal(await one.hlen("rinha:amounts"), 10);
      assert.equal(await two.exists("rinha:amounts"), 0);
      one.disconnect();
      two.disconnect();
    } finally {
      await first.stop();
    }
    assert.equal(readPortLock(port), undefined, "the lock is removed");
  },
);
