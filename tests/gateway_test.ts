/**
 * The HTTP gateway against real redis-server processes: every available design end to end through
 * HTTP with a real consumer, wait=true, every class of bad request (status, code, nothing
 * enqueued), /metrics as Prometheus text, /health before and after Redis really dies, and two
 * gateway processes sharing one port.
 */
import assert from "node:assert/strict";
import { bindDesign, DESIGN_NAMES } from "@fastpix/queue";
import { parsePrometheusText, sampleValue } from "@fastpix/gateway";
import { startGatewayProcess } from "@fastpix/loadtest";
import { ErrorCode } from "@fastpix/pix";
import { freePort } from "@fastpix/testing";
import { claimPort } from "@fastpix/http";
import {
  ChildTool,
  client,
  confirmationsOf,
  INTEGRATION,
  type RedisServer,
  startRedis,
  waitFor,
} from "./_helpers.ts";
import { metricsOf, postPayment, stack, startConsumer, startGateway, TARGET } from "./_gateway.ts";

/** POSTs a payment over a fresh TCP connection (closed after the answer); resolves to the status. */
async function postOnNewConnection(port: number, body: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = new TextEncoder().encode(body);
  await conn.write(new TextEncoder().encode(
    `POST /pix/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n${body}`,
  ));
  let text = "";
  for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) text += chunk;
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
}

Deno.test(
  "stream design end to end over HTTP: 202s, exact totals, every confirmation, fields kept",
  INTEGRATION,
  async () => {
    await using s = await stack();
    // Amount as JSON numbers and strings; ids given or generated; an optional field.
    const bodies = Array.from({ length: 120 }, (_, i) => ({
      ...(i % 2 === 0 ? { transaction_id: `tx-${i}` } : {}),
      backend_id: String(1 + (i % 3)),
      amount: i % 3 === 0 ? 19.9 : i % 3 === 1 ? "12.3" : 7,
      payee_key: `payee${i}@example.com`,
    }));
    const answers = await Promise.all(bodies.map((b) => postPayment(s.base, b)));
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([202]));
    const ids = answers.map((a) => a.body.transaction_id as string);
    assert.equal(new Set(ids).size, 120);
    for (let i = 0; i < 120; i += 2) assert.equal(ids[i], `tx-${i}`);

    await waitFor(
      "120 payments processed",
      async () => await s.redis.get("processed_count") === "120",
    );
    // 40 × 19.90 + 40 × 12.30 + 40 × 7.00 = 1568.00
    assert.equal(await s.redis.get("total_amount"), "1568.00");
    assert.equal(await s.redis.get("total_amount_cents"), "156800");
    for (const backend of ["1", "2", "3"]) {
      const confirmations = await confirmationsOf(s.redis, `backend_bacen_response_${backend}`);
      const mine = ids.filter((_, i) => String(1 + (i % 3)) === backend);
      assert.deepEqual(new Set(confirmations.map((c) => c.transaction_id)), new Set(mine));
      assert.ok(confirmations.every((c) => c.status === "confirmed"));
    }
    const entries = await s.redis.xrange("pix_payments", "-", "+");
    assert.equal(entries.length, 120);
    const first = Object.fromEntries(
      entries.map(([, f]) => f).find((f) => f.includes("tx-0"))!.reduce<string[][]>(
        (pairs, v, i, all) => (i % 2 === 0 ? [...pairs, [v, all[i + 1]]] : pairs),
        [],
      ),
    );
    assert.equal(first.amount, "19.90");
    assert.equal(first.payee_key, "payee0@example.com");
    assert.match(first.timestamp, /^\d{4}-\d{2}-\d{2}T/);
  },
);

Deno.test(
  "wait=true answers 200 with the confirmation, for many at once and a new backend",
  INTEGRATION,
  async () => {
    await using s = await stack();
    const one = await postPayment(s.base, { backend_id: "zeta", amount: "12.34" }, "?wait=true");
    assert.equal(one.status, 200);
    assert.equal(one.body.status, "confirmed");
    assert.equal(one.body.processed_amount, "12.34");
    assert.equal(one.body.backend_id, "zeta");
    assert.match(one.body.transaction_id, /^[0-9a-f-]{36}$/);

    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        postPayment(s.base, {
          transaction_id: `w-${i}`,
          backend_id: String(1 + (i % 4)),
          amount: `${i + 1}.00`,
        }, "?wait=true")),
    );
    for (const [i, a] of many.entries()) {
      assert.equal(a.status, 200);
      assert.equal(a.body.transaction_id, `w-${i}`);
      assert.equal(a.body.processed_amount, `${i + 1}.00`);
    }
    // Sending the same id again: the consumer answers "duplicate", and so does the gateway.
    const again = await postPayment(
      s.base,
      { transaction_id: "w-3", backend_id: "4", amount: "4.00" },
      "?wait=true",
    );
    assert.equal(again.status, 200);
    assert.equal(again.body.status, "duplicate");
    assert.equal(await s.redis.get("processed_count"), "51");
    const page = await metricsOf(s.base);
    assert.equal(sampleValue(page, "fastpix_gateway_waiting_confirmations"), 0);
  },
);

Deno.test(
  "wait=true without a consumer answers 504 after the timeout; the payment stays enqueued",
  INTEGRATION,
  async () => {
    await using s = await stack({ consumer: false, gateway: { waitTimeoutMs: 300 } });
    const started = performance.now();
    const r = await postPayment(s.base, { backend_id: "1", amount: "1.00" }, "?wait=true");
    const elapsed = performance.now() - started;
    assert.equal(r.status, 504);
    assert.equal(r.body.code, ErrorCode.CONFIRMATION_TIMEOUT);
    assert.equal(r.body.error, "confirmation_timeout");
    assert.ok(elapsed >= 290, `answered after ${elapsed} ms`);
    assert.equal(await s.redis.xlen("pix_payments"), 1);
    const page = await metricsOf(s.base);
    assert.equal(sampleValue(page, "fastpix_gateway_confirmation_timeouts_total"), 1);
  },
);

Deno.test(
  "every class of bad request gets its status and code, and nothing is enqueued",
  INTEGRATION,
  async () => {
    await using s = await stack({
      consumer: false,
      gateway: { maxBodyBytes: 1024, allowedDesigns: ["stream", "basic"] },
    });
    const json = { "content-type": "application/json" };
    const valid = JSON.stringify({ backend_id: "1", amount: "1.00" });
    const cases: [string, RequestInit & { path?: string }, number, number][] = [
      [
        "text/plain",
        { body: valid, headers: { "content-type": "text/plain" } },
        415,
        ErrorCode.REQUEST_CONTENT_TYPE,
      ],
      [
        "no content type",
        { body: new TextEncoder().encode(valid) },
        415,
        ErrorCode.REQUEST_CONTENT_TYPE,
      ],
      [
        "body over the cap",
        {
          body: JSON.stringify({ backend_id: "1", amount: "1", d: "x".repeat(2000) }),
          headers: json,
        },
        413,
        ErrorCode.REQUEST_BODY_TOO_LARGE,
      ],
      [
        "streamed body over the cap",
        {
          body: new ReadableStream({
            start(c) {
              for (let i = 0; i < 3; i++) c.enqueue(new TextEncoder().encode(" ".repeat(600)));
              c.enqueue(new TextEncoder().encode(valid));
              c.close();
            },
          }),
          headers: json,
        },
        413,
        ErrorCode.REQUEST_BODY_TOO_LARGE,
      ],
      [
        "bad JSON",
        { body: '{"backend_id": "1",', headers: json },
        400,
        ErrorCode.REQUEST_JSON_INVALID,
      ],
      ["empty body", { body: "", headers: json }, 400, ErrorCode.REQUEST_JSON_INVALID],
      ["JSON array", { body: "[]", headers: json }, 400, ErrorCode.REQUEST_NOT_AN_OBJECT],
      [
        "object field",
        { body: '{"backend_id":"1","amount":{"v":1}}', headers: json },
        400,
        ErrorCode.REQUEST_FIELD_TYPE,
      ],
      [
        "null field",
        { body: '{"backend_id":"1","amount":null}', headers: json },
        400,
        ErrorCode.REQUEST_FIELD_TYPE,
      ],
      [
        "float drift",
        { body: '{"backend_id":"1","amount":0.30000000000000004}', headers: json },
        400,
        1202,
      ],
      ["three decimals", { body: '{"backend_id":"1","amount":19.999}', headers: json }, 400, 1202],
      ["exponent", { body: '{"backend_id":"1","amount":1e2}', headers: json }, 400, 1202],
      ["comma decimal", { body: '{"backend_id":"1","amount":"12,50"}', headers: json }, 400, 1202],
      ["negative", { body: '{"backend_id":"1","amount":-5}', headers: json }, 400, 1203],
      ["zero", { body: '{"backend_id":"1","amount":0}', headers: json }, 400, 1203],
      [
        "above the max",
        { body: '{"backend_id":"1","amount":"1000000.01"}', headers: json },
        400,
        1204,
      ],
      ["no amount", { body: '{"backend_id":"1"}', headers: json }, 400, 1201],
      ["no backend", { body: '{"amount":"1.00"}', headers: json }, 400, 1101],
      ["bad backend", { body: '{"backend_id":"a b","amount":"1.00"}', headers: json }, 400, 1102],
      [
        "bad id",
        { body: '{"transaction_id":"x y","backend_id":"1","amount":"1"}', headers: json },
        400,
        1002,
      ],
      [
        "bad timestamp",
        { body: '{"backend_id":"1","amount":"1","timestamp":"yesterday"}', headers: json },
        400,
        1302,
      ],
      [
        "unknown design",
        { body: valid, headers: json, path: "/pix/payments?design=kafka" },
        400,
        ErrorCode.DESIGN_UNKNOWN,
      ],
      [
        "design not allowed",
        { body: valid, headers: json, path: "/pix/payments?design=list" },
        400,
        ErrorCode.DESIGN_NOT_ALLOWED,
      ],
      [
        "wait with basic",
        { body: valid, headers: json, path: "/pix/payments?design=basic&wait=true" },
        400,
        ErrorCode.WAIT_UNSUPPORTED,
      ],
      ["wrong method", { method: "GET", path: "/pix/payments" }, 405, ErrorCode.METHOD_NOT_ALLOWED],
      [
        "unknown route",
        { body: valid, headers: json, path: "/pix/payment" },
        404,
        ErrorCode.NOT_FOUND,
      ],
    ];
    for (const [name, init, status, code] of cases) {
      const response = await fetch(`${s.base}${init.path ?? "/pix/payments"}`, {
        method: "POST",
        ...init,
      });
      const body = await response.json();
      assert.equal(response.status, status, `${name}: ${JSON.stringify(body)}`);
      assert.equal(body.code, code, `${name}: ${JSON.stringify(body)}`);
      assert.equal(typeof body.error, "string", name);
      assert.ok(body.message.length > 10 && !body.message.includes("\n"), name);
    }
    assert.equal(await s.redis.exists("pix_payments"), 0, "nothing was enqueued");
    assert.equal(await s.redis.exists("source_list_0"), 0, "nothing was enqueued");
    const page = await metricsOf(s.base);
    assert.equal(sampleValue(page, "fastpix_gateway_enqueued_payments_total"), 0);
    const rejected = page.samples.filter((x) => x.name === "fastpix_gateway_requests_total")
      .reduce((sum, x) => sum + x.value, 0);
    assert.equal(rejected, cases.length);

    // And a good one after all that is accepted.
    const ok = await postPayment(s.base, valid);
    assert.equal(ok.status, 202);
    await waitFor("the entry", async () => await s.redis.xlen("pix_payments") === 1);
  },
);

Deno.test(
  "/metrics is Prometheus text whose counts match the requests made",
  INTEGRATION,
  async () => {
    await using s = await stack({ consumer: false });
    for (let i = 0; i < 7; i++) await postPayment(s.base, { backend_id: "1", amount: "2.00" });
    for (let i = 0; i < 3; i++) await postPayment(s.base, { backend_id: "1" });
    await fetch(`${s.base}/health`).then((r) => r.body?.cancel());
    const page = await metricsOf(s.base);
    const requests = "fastpix_gateway_requests_total";
    assert.equal(sampleValue(page, requests, { route: "/pix/payments", status: "202" }), 7);
    assert.equal(sampleValue(page, requests, { route: "/pix/payments", status: "400" }), 3);
    assert.equal(sampleValue(page, requests, { route: "/health", status: "503" }), 1);
    const hist = "fastpix_gateway_request_duration_seconds";
    assert.equal(sampleValue(page, `${hist}_count`, { route: "/pix/payments" }), 10);
    assert.equal(sampleValue(page, `${hist}_bucket`, { route: "/pix/payments", le: "+Inf" }), 10);
    assert.ok(sampleValue(page, `${hist}_sum`, { route: "/pix/payments" }) > 0);
    assert.equal(
      sampleValue(page, "fastpix_gateway_enqueued_payments_total", { design: "stream" }),
      7,
    );
    assert.equal(sampleValue(page, "fastpix_gateway_queue_depth", { design: "stream" }), 7);
    assert.equal(
      sampleValue(page, "fastpix_gateway_enqueue_errors_total", { design: "stream" }),
      0,
    );
    assert.equal(sampleValue(page, "fastpix_gateway_redis_up"), 1);
    for (const type of ["counter", "histogram", "gauge"]) {
      assert.ok([...page.types.values()].includes(type), type);
    }
  },
);

Deno.test(
  "/health: 503 without a consumer group, 200 with one, 503 once redis-server is killed",
  INTEGRATION,
  async () => {
    await using s = await stack({ consumer: false });
    const health = async () => {
      const r = await fetch(`${s.base}/health`);
      return { status: r.status, body: await r.json() };
    };
    const before = await health();
    assert.equal(before.status, 503);
    assert.match(before.body.reason, /consumer group pix_consumers/);

    const consumer = startConsumer(s.server.url);
    try {
      await waitFor("the group", async () => (await health()).status === 200);
      assert.deepEqual((await health()).body, {
        status: "ok",
        design: "stream",
        redis: "up",
        designs: { stream: { consumer: "live" } },
      });
    } finally {
      await consumer.stop();
    }

    await s.server.kill();
    const down = await health();
    assert.equal(down.status, 503);
    assert.equal(down.body.redis, "down");
    const refused = await postPayment(s.base, { backend_id: "1", amount: "1.00" });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, ErrorCode.ENQUEUE_FAILED);
    // Anonymous clients are not told where Redis is, nor what it said.
    for (const body of [down.body, refused.body]) {
      const text = JSON.stringify(body);
      assert.ok(!text.includes(String(s.server.port)) && !text.includes("127.0.0.1"), text);
    }
    const page = await metricsOf(s.base);
    assert.equal(sampleValue(page, "fastpix_gateway_redis_up"), 0);
    assert.equal(
      sampleValue(page, "fastpix_gateway_enqueue_errors_total", { design: "stream" }),
      1,
    );

    // Redis comes back (empty: no AOF): the gateway reconnects by itself and takes payments.
    await s.server.restart();
    await waitFor("the gateway to reconnect", async () => (await health()).body.redis === "up");
    assert.match((await health()).body.reason, /consumer group pix_consumers/);
    assert.equal((await postPayment(s.base, { backend_id: "1", amount: "1.00" })).status, 202);
    await waitFor("the entry", async () => await s.redis.xlen("pix_payments") === 1);
  },
);

Deno.test(
  "two gateway processes of one stack share one port (reusePort) and both take requests",
  INTEGRATION,
  async () => {
    await using server: RedisServer = await startRedis();
    const redis = client(server.url);
    const port = freePort();
    // The test is the command that starts the stack: it claims the port for the two.
    const claim = await claimPort(port, "127.0.0.1", "gateway_test");
    const a = await startGatewayProcess({ redisUrl: server.url, port, stack: claim.stack });
    const b = await startGatewayProcess({ redisUrl: server.url, port, stack: claim.stack });
    try {
      // A new connection per request, so the kernel balances each one.
      for (let i = 0; i < 40; i++) {
        assert.equal(await postOnNewConnection(port, '{"backend_id":"1","amount":"1.00"}'), 202);
      }
      assert.equal(await redis.xlen("pix_payments"), 40);
      await b.stop();
      // Only A is left: what it counted is its share, and B took the rest.
      const page = parsePrometheusText(await (await fetch(`${a.url}/metrics`)).text());
      const servedByA = sampleValue(page, "fastpix_gateway_enqueued_payments_total", {
        design: "stream",
      });
      assert.ok(servedByA > 0 && servedByA < 40, `A served ${servedByA} of 40`);
    } finally {
      await a.stop();
      await b.stop();
      claim.release();
      redis.disconnect();
    }
  },
);

Deno.test(
  "each design end to end through HTTP with its own consumer process, /health 200 first",
  INTEGRATION,
  async (t) => {
    for (const design of DESIGN_NAMES) {
      await t.step(design, async () => {
        await using server = await startRedis();
        const redis = client(server.url);
        const binding = bindDesign(design, TARGET);
        const consumer = new ChildTool(binding.consumer.script, {
          args: binding.consumer.args,
          env: { REDIS_URL: server.url, CONSUMER_NAME: `gw_${design}`, LOG_LEVEL: "warn" },
        });
        const gateway = await startGateway(server.url, { design });
        try {
          await waitFor(`${design}: /health 200`, async () => {
            const r = await fetch(`${gateway.url}/health`);
            await r.body?.cancel();
            return r.status === 200;
          });
          const query = binding.confirms ? "?wait=true" : "";
          const answers = await Promise.all(
            Array.from({ length: 40 }, (_, i) =>
              postPayment(gateway.url, {
                transaction_id: `${design}-${i}`,
                backend_id: String(1 + (i % 2)),
                amount: i % 2 === 0 ? 10.1 : "0.25",
              }, query)),
          );
          for (const [i, a] of answers.entries()) {
            assert.equal(a.status, binding.confirms ? 200 : 202, JSON.stringify(a.body));
            assert.equal(a.body.transaction_id, `${design}-${i}`);
            if (binding.confirms) assert.equal(a.body.status, "confirmed");
          }
          await waitFor(
            `${design}: 40 processed`,
            async () => await redis.get("processed_count") === "40",
          );
          assert.equal(await redis.get("total_amount_cents"), String(20 * 1010 + 20 * 25));
          const page = await metricsOf(gateway.url);
          assert.equal(
            sampleValue(page, "fastpix_gateway_enqueued_payments_total", { design }),
            40,
          );
          assert.equal(sampleValue(page, "fastpix_gateway_queue_depth", { design }), 0);
        } finally {
          await gateway.stop();
          consumer.kill("SIGTERM");
          await consumer.finished();
          redis.disconnect();
        }
      });
    }
  },
);
