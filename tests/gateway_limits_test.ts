/**
 * The gateway's bounds against real redis-server processes: designs served only on purpose
 * (ALLOWED_DESIGNS, /health per design), backpressure past MAX_QUEUE_LAG, bounded wait=true
 * (MAX_WAITERS, MAX_WATCHED_BACKENDS, idle confirmation streams dropped), and what /health tells
 * anonymous clients.
 */
import assert from "node:assert/strict";
import { sampleValue } from "@fastpix/gateway";
import { runWaiterStorm } from "@fastpix/loadtest";
import { ErrorCode } from "@fastpix/pix";
import { type Redis, sleep } from "@fastpix/infra";
import { ChildTool, INTEGRATION, startRedis, waitFor } from "./_helpers.ts";
import { metricsOf, postPayment as post, stack, startConsumer, startGateway } from "./_gateway.ts";

async function getJson(url: string) {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

/** Calls of `command` Redis has counted (INFO commandstats). */
async function callsOf(redis: Redis, command: string): Promise<number> {
  const info = await redis.info("commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

Deno.test(
  "a design outside ALLOWED_DESIGNS is refused with 400 and nothing is enqueued; /health reports each allowed design's consumer",
  INTEGRATION,
  async () => {
    await using s = await stack({
      consumer: false,
      gateway: { allowedDesigns: ["list-reliable", "stream"] },
    });
    const { redis, gateway } = s;
    assert.deepEqual(gateway.gateway.allowedDesigns, ["stream", "list-reliable"]);
    // No list consumer runs: the plain list design is not served, so nothing sits there.
    for (const design of ["list", "basic"]) {
      const r = await post(gateway.url, { backend_id: "1", amount: "1.00" }, `?design=${design}`);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, ErrorCode.DESIGN_NOT_ALLOWED);
      assert.equal(r.body.error, "design_not_allowed");
      assert.match(
        r.body.message,
        /^Design (list|basic) is not served here: use list-reliable or stream/,
      );
    }
    assert.equal(await redis.exists("source_list_0", "pix_payments"), 0);
    const unknown = await post(gateway.url, { backend_id: "1", amount: "1" }, "?design=kafka");
    assert.equal(unknown.body.code, ErrorCode.DESIGN_UNKNOWN);
    // The allowed ones are taken.
    const listed = await post(
      gateway.url,
      { backend_id: "1", amount: "1" },
      "?design=list-reliable",
    );
    assert.equal(listed.status, 202);
    assert.equal(await redis.llen("source_list_0"), 1);
    assert.equal((await post(gateway.url, { backend_id: "1", amount: "1" })).status, 202);

    // /health: every allowed design, whether its consumer is live.
    const none = await getJson(`${gateway.url}/health`);
    assert.equal(none.status, 503);
    assert.equal(none.body.designs.stream.consumer, "missing");
    assert.equal(none.body.designs["list-reliable"].consumer, "missing");
    assert.match(none.body.designs["list-reliable"].reason, /no reliable list consumer/);
    assert.deepEqual(Object.keys(none.body.designs), ["stream", "list-reliable"]);
    {
      await using _consumer = startConsumer(s.server.url);
      await waitFor(
        "the stream consumer",
        async () => (await getJson(`${gateway.url}/health`)).status === 200,
      );
      const some = await getJson(`${gateway.url}/health`);
      assert.equal(some.body.designs.stream.consumer, "live");
      assert.equal(some.body.designs["list-reliable"].consumer, "missing");
      // ?design= picks the design whose consumer decides the status, among the allowed ones.
      const other = await getJson(`${gateway.url}/health?design=list-reliable`);
      assert.equal(other.status, 503);
      assert.equal(other.body.design, "list-reliable");
      const refused = await getJson(`${gateway.url}/health?design=list`);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, ErrorCode.DESIGN_NOT_ALLOWED);
    }

    // The command refuses a default design outside its own allowlist, in one line.
    const bad = await new ChildTool("gateway/gateway_command.ts", {
      args: ["--design", "list", "--allowed-designs", "stream,basic", "--port", "0"],
      env: { REDIS_URL: s.server.url, LOG_LEVEL: "warn" },
    }).finished();
    assert.equal(bad.code, 2, bad.output);
    assert.equal(
      bad.output,
      "gateway: The default design list (--design, GATEWAY_DESIGN) is not among the allowed " +
        "designs stream,basic (--allowed-designs, ALLOWED_DESIGNS)\n",
    );
  },
);

Deno.test(
  "past MAX_QUEUE_LAG new payments get 503 with Retry-After until the consumer catches up; the lag is read at most every 100 ms",
  INTEGRATION,
  async () => {
    await using s = await stack({ consumer: false, gateway: { maxQueueLag: 5 } });
    const { redis, gateway } = s;
    for (let i = 0; i < 5; i++) {
      assert.equal((await post(gateway.url, { backend_id: "1", amount: "1.00" })).status, 202);
    }
    await sleep(150); // the lag read for the first request is stale now
    const refused = await post(gateway.url, { backend_id: "1", amount: "1.00" });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, ErrorCode.QUEUE_LAG_TOO_HIGH);
    assert.equal(refused.retryAfter, "1");
    assert.match(refused.body.message, /holds 5 payments not yet processed \(at most 5/);
    assert.equal(await redis.xlen("pix_payments"), 5, "nothing more was enqueued");
    const waiting = await post(gateway.url, { backend_id: "1", amount: "1" }, "?wait=true");
    assert.equal(waiting.body.code, ErrorCode.QUEUE_LAG_TOO_HIGH);

    // Requests one after the other are answered from the cached lag: a Redis read per 100 ms,
    // not one per request.
    const reads = async () => await callsOf(redis, "xinfo") + await callsOf(redis, "xlen");
    const before = await reads();
    const started = performance.now();
    for (let i = 0; i < 100; i++) {
      assert.equal((await post(gateway.url, { backend_id: "1", amount: "1" })).status, 503);
    }
    const windows = Math.ceil((performance.now() - started) / 100) + 1;
    const used = await reads() - before;
    // A read is XINFO GROUPS, plus XLEN while there is no group.
    assert.ok(used <= 2 * windows && used < 100, `${used} Redis reads for 100 requests`);
    const page = await metricsOf(gateway.url);
    assert.equal(
      sampleValue(page, "fastpix_gateway_refused_total", { reason: "queue_lag" }),
      102,
    );

    // A consumer drains the queue: payments are taken again.
    {
      await using _consumer = startConsumer(s.server.url);
      await waitFor(
        "the backlog processed",
        async () => await redis.get("processed_count") === "5",
      );
      await waitFor(
        "a payment accepted",
        async () => (await post(gateway.url, { backend_id: "1", amount: "1" })).status === 202,
      );
    }
  },
);

Deno.test(
  "wait=true is bounded: MAX_WAITERS and MAX_WATCHED_BACKENDS answer 503, idle confirmation streams stop being read",
  INTEGRATION,
  async () => {
    await using s = await stack({
      consumer: false,
      gateway: { waitTimeoutMs: 600, maxWaiters: 3, maxWatchedBackends: 2, watchIdleMs: 300 },
    });
    const { redis, gateway } = s;
    const pay = (backend: string) =>
      post(gateway.url, { backend_id: backend, amount: "1.00" }, "?wait=true");
    const watched = async () =>
      sampleValue(await metricsOf(gateway.url), "fastpix_gateway_watched_streams");
    // No consumer: every waiter waits its full timeout.
    const a1 = pay("a"), a2 = pay("a"), b = pay("b");
    await waitFor("3 waiters", () => gateway.gateway.waiting.requests === 3);
    const full = await pay("a");
    assert.equal(full.status, 503, JSON.stringify(full.body));
    assert.equal(full.body.code, ErrorCode.TOO_MANY_WAITERS);
    assert.equal(full.retryAfter, "1");
    assert.match(
      full.body.message,
      /^3 requests are waiting for confirmations already \(MAX_WAITERS\)/,
    );
    for (const r of await Promise.all([a1, a2, b])) assert.equal(r.status, 504);

    // Two backends watched and in use: a third backend is refused, not watched.
    const x = pay("x"), y = pay("y");
    await waitFor("2 waiters", () => gateway.gateway.waiting.requests === 2);
    const third = await pay("z");
    assert.equal(third.status, 503);
    assert.equal(third.body.code, ErrorCode.TOO_MANY_WAITERS);
    assert.match(third.body.message, /2 backends already \(MAX_WATCHED_BACKENDS\)/);
    assert.equal(await watched(), 2);
    for (const r of await Promise.all([x, y])) assert.equal(r.status, 504);
    // Once x and y have no waiter, a new backend takes the place of the one idle the longest.
    const z = pay("z");
    await waitFor("z waiting", () => gateway.gateway.waiting.requests === 1);
    assert.equal(await watched(), 2);
    assert.equal((await z).status, 504);

    // Nobody waits any more: within the idle time every stream is dropped, and no XREAD is sent.
    await waitFor("no watched stream", async () => await watched() === 0, 3000);
    const xreads = await callsOf(redis, "xread");
    await sleep(400);
    assert.equal(await callsOf(redis, "xread"), xreads, "XREAD with no stream to read");
    const page = await metricsOf(gateway.url);
    assert.equal(sampleValue(page, "fastpix_gateway_refused_total", { reason: "waiters" }), 1);
    assert.equal(
      sampleValue(page, "fastpix_gateway_refused_total", { reason: "watched_backends" }),
      1,
    );
    assert.equal(sampleValue(page, "fastpix_gateway_waiting_confirmations"), 0);

    // A stream watched again after its drop still delivers (a consumer now runs).
    {
      await using _consumer = startConsumer(s.server.url);
      const again = await post(
        gateway.url,
        { backend_id: "a", amount: "2.00" },
        "?wait=true",
      );
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.status, "confirmed");
    }
  },
);

Deno.test(
  "/health names the Redis address and its errors only with --health-details",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const plain = await startGateway(server.url);
    const detailed = await startGateway(server.url, { healthDetails: true });
    try {
      const port = String(server.port);
      const up = await getJson(`${plain.url}/health`);
      assert.equal(up.body.redis, "up");
      assert.ok(!JSON.stringify(up.body).includes(port), JSON.stringify(up.body));
      assert.equal((await getJson(`${detailed.url}/health`)).body.redis_url, server.url);
      await server.kill();
      const down = await getJson(`${plain.url}/health`);
      assert.deepEqual(down.body, {
        status: "unavailable",
        design: "stream",
        redis: "down",
        reason: "Redis does not answer",
      });
      const told = await getJson(`${detailed.url}/health`);
      assert.equal(told.status, 503);
      assert.equal(told.body.redis_url, server.url);
      assert.match(told.body.reason, /^Redis does not answer: /);
      const refused = await post(detailed.url, { backend_id: "1", amount: "1.00" });
      assert.equal(refused.body.code, ErrorCode.ENQUEUE_FAILED);
      assert.ok(refused.body.message.includes(port), refused.body.message);
    } finally {
      await plain.stop();
      await detailed.stop();
    }
  },
);

Deno.test(
  "a storm of 20,000 wait=true requests, one backend each, with the consumer paused: memory comes back within 2x idle and the watch empties",
  // Known open failure: on a quiet machine the gateway's RSS 15 s after the storm stands at
  // 199-221 MB for an idle 86-88 MB (2.3-2.5x; under heavy load it passes). Run it with
  // STORM_MEMORY_TEST=1 until the memory is returned promptly; the bench is `deno task bench:waiters`.
  {
    ...INTEGRATION,
    ignore: Deno.env.get("STORM_MEMORY_TEST") !== "1",
  },
  async () => {
    const storm = await runWaiterStorm({
      requests: 20_000,
      concurrency: 2000,
      waitTimeoutMs: 500,
      watchIdleMs: 500,
      settleS: 15,
      gatewayScript: Deno.env.get("STORM_GATEWAY_SCRIPT"), // another checkout's, to compare
    });
    const answered = Object.values(storm.statuses).reduce((a, b) => a + b, 0);
    assert.equal(answered + storm.failed, 20_000);
    // Timed out waiting, or refused by a bound: nothing else.
    assert.deepEqual(Object.keys(storm.statuses).filter((s) => s !== "504" && s !== "503"), []);
    assert.ok(storm.statuses["504"] > 10_000, JSON.stringify(storm));
    assert.equal(storm.watchedAfter, 0, JSON.stringify(storm));
    assert.ok(storm.redisCpuAfterPct < 5, JSON.stringify(storm));
    assert.ok(storm.rssAfterMb <= 2 * storm.rssIdleMb, JSON.stringify(storm));
  },
);
