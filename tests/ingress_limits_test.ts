/**
 * Hostile clients against both servers run as real child processes (`deno task gateway` and
 * `rinha api`): more idle sockets than the process has file descriptors (`ulimit -n`), a slowloris
 * client at one header byte per second, and a 200 MB chunked body streamed from here. Each server
 * must stay up, cut the client within its timeout, answer 413 without buffering the body, and
 * serve normally afterwards.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "@fastpix/pix";
import { sleep } from "@fastpix/infra";
import { freePort } from "@fastpix/testing";
import { INTEGRATION, startRedis, waitFor } from "./_helpers.ts";
import { drip, RawConnection, rssKiB } from "./_http_client.ts";
import { ServerProcess } from "./_server_process.ts";

/** Opens `n` connections (no request); some may wait in the listen backlog. */
async function openIdle(port: number, n: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      break; // the backlog is full too: enough
    }
  }
  return conns;
}

for (const kind of ["gateway", "rinha"] as const) {
  Deno.test(
    `${kind}: 400 idle sockets under ulimit -n 256 neither end nor wedge the process`,
    INTEGRATION,
    async (t) => {
      await using redis = await startRedis();
      // The default cap (from the descriptor limit), then a cap above it: accept meets EMFILE.
      for (const cap of [undefined, 1000]) {
        await t.step(
          cap === undefined ? "default connection cap" : "cap above the fd limit",
          async () => {
            const port = freePort();
            const args = [
              "--headers-timeout-ms",
              "3000",
              ...(cap ? ["--max-connections", String(cap)] : []),
            ];
            const server = new ServerProcess(kind, port, redis.url, { fdLimit: 256, args });
            let output = "";
            try {
              await server.ready();
              const conns = await openIdle(port, 400);
              assert.ok(conns.length > 256, `only ${conns.length} connections opened`);
              await sleep(1500);
              assert.equal(server.exited, false, "the server exited");
              for (const c of conns) c.close();
              // Every socket gone: it answers again at once.
              await waitFor(
                "an answer after the sockets closed",
                () => server.probe(1000).then(() => true, () => false),
                10_000,
              );
              assert.equal(server.exited, false);
            } finally {
              output = await server.stop();
            }
            assert.doesNotMatch(output, /Uncaught|os error 24\)\s*$/m, output);
            if (cap !== undefined) {
              assert.match(output, /cannot accept connections \(.*Too many open files/, output);
            }
          },
        );
      }
    },
  ); // deno-fmt-ignore

  Deno.test(
    `${kind}: a slowloris client (one header byte per second) is cut with 408 within the header timeout`,
    INTEGRATION,
    async () => {
      await using redis = await startRedis();
      const port = freePort();
      const server = new ServerProcess(kind, port, redis.url, { args: ["--headers-timeout-ms", "3000"] });
      try {
        await server.ready();
        const c = await RawConnection.open(port);
        const request = `GET ${server.probePath} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${"z".repeat(40)}\r\n\r\n`;
        const { answer, ms, sent } = await drip(c, request, 1000);
        assert.equal(answer?.status, 408);
        assert.equal(JSON.parse(answer!.body).code, ErrorCode.REQUEST_TIMEOUT);
        assert.ok(ms >= 2900 && ms < 4500, `cut after ${ms} ms`);
        assert.ok(sent <= 5, `${sent} bytes went through`);
        assert.ok(await server.probe() > 0);
      } finally {
        await server.stop();
      }
    },
  ); // deno-fmt-ignore

  Deno.test(
    `${kind}: a 200 MB chunked body gets 413 at once and RSS stays within 2x idle`,
    INTEGRATION,
    async () => {
      await using redis = await startRedis();
      const port = freePort();
      const server = new ServerProcess(kind, port, redis.url);
      try {
        await server.ready();
        for (let i = 0; i < 20; i++) await server.probe(); // warm
        await sleep(300);
        const idle = rssKiB(server.pid);
        let peak = idle;
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            peak = Math.max(peak, rssKiB(server.pid));
            await sleep(10);
          }
        })();
        const c = await RawConnection.open(port);
        const path = kind === "gateway" ? "/pix/payments" : "/payments";
        await c.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
        // One 64 KiB chunk frame, sent again and again: 200 MB never exist here either.
        const payload = 64 * 1024;
        const frame = new TextEncoder().encode(`${payload.toString(16)}\r\n${" ".repeat(payload)}\r\n`);
        const total = 200 * 1024 * 1024;
        let sent = 0;
        let stop = false;
        const started = performance.now();
        const streaming = (async () => {
          try {
            while (!stop && sent < total) {
              await c.write(frame);
              sent += payload;
            }
            if (!stop) await c.write("0\r\n\r\n");
          } catch { /* closed by the server */ }
        })();
        const answer = await c.response();
        const answeredMs = performance.now() - started;
        stop = true;
        c.close();
        await streaming;
        sampling = false;
        await sampler;
        assert.equal(answer?.status, 413);
        assert.equal(JSON.parse(answer!.body).code, ErrorCode.REQUEST_BODY_TOO_LARGE);
        assert.ok(answeredMs < 3000, `answered after ${answeredMs} ms`);
        assert.ok(sent < total / 10, `${sent} bytes were sent before the answer`);
        assert.ok(peak <= 2 * idle, `RSS ${idle} KiB idle, ${peak} KiB at peak`);
        console.log(`${kind}: idle RSS ${idle} KiB, peak ${peak} KiB, 413 after ${answeredMs.toFixed(0)} ms and ${sent} bytes`);
        assert.ok(await server.probe() > 0);
      } finally {
        await server.stop();
      }
    },
  ); // deno-fmt-ignore
}
