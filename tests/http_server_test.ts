/**
 * The HTTP serving layer (`@fastpix/http`) over real loopback connections, byte by byte: keep-alive,
 * Content-Length, chunked and pipelined requests; header, body and idle timeouts; the connection
 * and in-flight caps; bodies cut at the limit whatever the framing; malformed and oversized heads;
 * a graceful shutdown.
 */
import assert from "node:assert/strict";
import { type HttpHandler, type HttpLimits, httpLimits, serveHttp } from "@fastpix/http";
import { ErrorCode } from "@fastpix/pix";
import { sleep } from "@fastpix/infra";
import { drip, postText, RawConnection } from "./_http_client.ts";

/** Echoes what the handler saw: method, path, body length and text. */
const echo: HttpHandler = async (request) => {
  const body = await request.text();
  return Response.json({
    method: request.method,
    path: new URL(request.url).pathname,
    length: body.length,
    body: body.slice(0, 100),
  });
};

function start(limits: Partial<HttpLimits> = {}, handler: HttpHandler = echo) {
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    limits: httpLimits({ maxBodyBytes: 1024, ...limits }),
  }, handler);
  return {
    server,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function chunked(path: string, chunks: string[]): string {
  const body = chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join("");
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`;
}

Deno.test("keep-alive: Content-Length, chunked, pipelined and 100-continue requests on one connection", async () => {
  await using s = start();
  const c = await RawConnection.open(s.port);
  await c.write(postText("/a", '{"x":1}'));
  const first = await c.response();
  assert.equal(first?.status, 200);
  assert.deepEqual(JSON.parse(first!.body), {
    method: "POST",
    path: "/a",
    length: 7,
    body: '{"x":1}',
  });
  await c.write(chunked("/b", ["he", "llo", " world"]));
  assert.equal(JSON.parse((await c.response())!.body).body, "hello world");
  // Two requests in one write: answered in order.
  await c.write(postText("/c", "1") + "GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(JSON.parse((await c.response())!.body).path, "/c");
  assert.equal(JSON.parse((await c.response())!.body).path, "/d");
  // Expect: 100-continue: the interim answer first, then the real one once the body is sent.
  await c.write("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  assert.equal((await c.response())?.status, 100);
  await c.write("ok");
  assert.equal(JSON.parse((await c.response())!.body).body, "ok");
  await c.write("HEAD /f HTTP/1.1\r\nHost: x\r\n\r\n");
  const head = await c.response({ head: true });
  assert.equal(head?.status, 200);
  assert.equal(
    head?.headers["content-length"],
    String(JSON.stringify({ method: "HEAD", path: "/f", length: 0, body: "" }).length),
  );
  await c.write("GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(JSON.parse((await c.response())!.body).path, "/g", "the HEAD answer had no body");
  c.close();
}); // deno-fmt-ignore

Deno.test("a slowloris client (headers at one byte every 100 ms) is cut with 408 within the header timeout", async () => {
  await using s = start({ headersTimeoutMs: 800 });
  const c = await RawConnection.open(s.port);
  const request = postText("/slow", '{"x":1}');
  const { answer, ms, sent } = await drip(c, request, 100);
  assert.equal(answer?.status, 408);
  assert.equal(JSON.parse(answer!.body).code, ErrorCode.REQUEST_TIMEOUT);
  assert.ok(ms >= 750 && ms < 1500, `cut after ${ms} ms`);
  assert.ok(sent < request.length, "the whole request went through");
  assert.equal(s.server.connections, 0);
}); // deno-fmt-ignore

Deno.test("silent, idle and slow-body connections are closed by their timeouts", async () => {
  await using s = start({ headersTimeoutMs: 600, idleTimeoutMs: 400, bodyTimeoutMs: 700 });
  // Connected, never a byte: closed after the header timeout, without an answer.
  const silent = await RawConnection.open(s.port);
  let t = performance.now();
  assert.equal(await silent.response(), undefined);
  const silentMs = performance.now() - t;
  assert.ok(silentMs >= 550 && silentMs < 1200, `silent closed after ${silentMs} ms`);
  // One request answered, then idle: closed after the idle timeout.
  const idle = await RawConnection.open(s.port);
  await idle.write(postText("/", "{}"));
  assert.equal((await idle.response())?.status, 200);
  t = performance.now();
  await idle.closed();
  const idleMs = performance.now() - t;
  assert.ok(idleMs >= 350 && idleMs < 1000, `idle closed after ${idleMs} ms`);
  // Headers at once, the body never completes: 408 after the body timeout.
  const slow = await RawConnection.open(s.port);
  t = performance.now();
  await slow.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
  const answer = await slow.response();
  const slowMs = performance.now() - t;
  assert.equal(answer?.status, 408);
  assert.equal(JSON.parse(answer!.body).code, ErrorCode.REQUEST_TIMEOUT);
  assert.ok(slowMs >= 650 && slowMs < 1300, `slow body cut after ${slowMs} ms`);
  for (const c of [silent, idle, slow]) c.close();
}); // deno-fmt-ignore

Deno.test("past the connection cap a new connection gets 503 with 3402; one closing makes room", async () => {
  await using s = start({ maxConnections: 3 });
  const held = await Promise.all([1, 2, 3].map(() => RawConnection.open(s.port)));
  for (const c of held) {
    await c.write(postText("/", "{}"));
    assert.equal((await c.response())?.status, 200);
  }
  const extra = await RawConnection.open(s.port);
  await extra.write(postText("/", "{}"));
  const refused = await extra.response();
  assert.equal(refused?.status, 503);
  const body = JSON.parse(refused!.body);
  assert.equal(body.code, ErrorCode.CONNECTIONS_EXHAUSTED);
  assert.equal(body.error, "connections_exhausted");
  assert.equal(refused?.headers.connection, "close");
  await extra.closed();
  extra.close();
  held[0].close();
  await sleep(100);
  const next = await RawConnection.open(s.port);
  await next.write(postText("/", "{}"));
  assert.equal((await next.response())?.status, 200);
  for (const c of [...held, next]) c.close();
}); // deno-fmt-ignore

Deno.test("past the in-flight cap a request gets 503 with 3403; the one in flight is answered", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  await using s = start({ maxInFlight: 1 }, async (request) => {
    if (new URL(request.url).pathname === "/hold") await gate;
    return new Response("done");
  });
  const holder = await RawConnection.open(s.port);
  await holder.write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  await sleep(100);
  const other = await RawConnection.open(s.port);
  try {
    assert.equal(s.server.inFlight, 1);
    await other.write("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    const refused = await other.response();
    assert.equal(refused?.status, 503);
    assert.equal(JSON.parse(refused!.body).code, ErrorCode.IN_FLIGHT_EXHAUSTED);
  } finally {
    release(); // else the shutdown at the end would wait for it forever
  }
  assert.equal((await holder.response())?.body, "done");
  const again = await RawConnection.open(s.port);
  await again.write("GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal((await again.response())?.status, 200);
  for (const c of [holder, other, again]) c.close();
}); // deno-fmt-ignore

Deno.test("bodies over the limit get 413 with 3001, declared or chunked, before the handler runs", async () => {
  let handled = 0;
  await using s = start({ maxBodyBytes: 1000 }, (request) => {
    handled++;
    return echo(request, { remoteAddr: { transport: "tcp", hostname: "", port: 0 } });
  });
  const declared = await RawConnection.open(s.port);
  // Only the headers: the answer comes without the body being sent.
  await declared.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n");
  const a = await declared.response();
  assert.equal(a?.status, 413);
  assert.equal(JSON.parse(a!.body).code, ErrorCode.REQUEST_BODY_TOO_LARGE);
  const streamed = await RawConnection.open(s.port);
  await streamed.write(chunked("/", Array.from({ length: 5 }, () => "x".repeat(300))));
  const b = await streamed.response();
  assert.equal(b?.status, 413);
  assert.equal(JSON.parse(b!.body).code, ErrorCode.REQUEST_BODY_TOO_LARGE);
  const fits = await RawConnection.open(s.port);
  await fits.write(chunked("/", ["x".repeat(500), "y".repeat(500)]));
  assert.equal(JSON.parse((await fits.response())!.body).length, 1000);
  assert.equal(handled, 1);
  for (const c of [declared, streamed, fits]) c.close();
}); // deno-fmt-ignore

Deno.test("malformed requests get 400 with 3406, oversized heads 431 with 3405", async () => {
  await using s = start({ maxHeaderBytes: 2048 });
  const cases: [string, number, number][] = [
    ["GARBAGE\r\n\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    ["GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    ["POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    ["POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400, ErrorCode.REQUEST_MALFORMED],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    ["GET * HTTP/1.1\r\n\r\n", 400, ErrorCode.REQUEST_MALFORMED],
    [`GET / HTTP/1.1\r\nX-Big: ${"a".repeat(3000)}\r\n\r\n`, 431, ErrorCode.REQUEST_HEADERS_TOO_LARGE],
  ];
  for (const [request, status, code] of cases) {
    const c = await RawConnection.open(s.port);
    await c.write(request);
    const answer = await c.response();
    assert.equal(answer?.status, status, JSON.stringify(request.slice(0, 50)));
    const body = JSON.parse(answer!.body);
    assert.equal(body.code, code, JSON.stringify(request.slice(0, 50)));
    assert.ok(body.message.length > 10 && !body.message.includes("\n"));
    await c.closed(); // a refused connection is closed
    c.close();
  }
}); // deno-fmt-ignore

Deno.test("shutdown: the request in flight is answered (connection: close), idle connections are closed", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const s = start({}, async () => {
    await gate;
    return new Response("late");
  });
  const idle = await RawConnection.open(s.port);
  const busy = await RawConnection.open(s.port);
  await busy.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await sleep(100);
  let finished = false;
  const stopping = s.server.shutdown().then(() => finished = true);
  try {
    await idle.closed();
    assert.equal(finished, false, "finished before the request in flight was answered");
  } finally {
    release();
  }
  const answer = await busy.response();
  assert.equal(answer?.body, "late");
  assert.equal(answer?.headers.connection, "close");
  await stopping;
  await assert.rejects(() => RawConnection.open(s.port));
  for (const c of [idle, busy]) c.close();
});
