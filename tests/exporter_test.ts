/**
 * The queue exporter (`deno task monitor --metrics-port`) against real redis-server processes:
 * exact numbers for known contents, the page through `promtool check metrics`, a scrape storm that
 * costs one Redis round, the dead letters counted by code across a replay, Redis dying and coming
 * back, and the headless child process stopped by SIGTERM.
 */
import assert from "node:assert/strict";
import { serveExporter, type ServeExporterOptions } from "@fastpix/monitor";
import { type MetricsPage, parsePrometheusText, sampleValue } from "@fastpix/gateway";
import { freePort } from "@fastpix/testing";
import { type Redis, sleep } from "@fastpix/infra";
import { ledgerBacklogKey, listProcessingKey, sourceListKey } from "@fastpix/pix";
import {
  ChildTool,
  client,
  INTEGRATION,
  type RedisServer,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const STREAM = "pix_payments";
const GROUP = "pix_consumers";
const PREFIX = "backend_bacen_response_";
const IDLE_MS = 400;

function exporterOptions(url: string, overrides: Partial<ServeExporterOptions> = {}) {
  return {
    redisUrl: url,
    stream: STREAM,
    group: GROUP,
    responsePrefix: PREFIX,
    idleThresholdMs: IDLE_MS,
    intervalMs: 0,
    scanCount: 1000,
    port: 0,
    hostname: "127.0.0.1",
    ...overrides,
  };
}

async function scrape(base: string): Promise<{ text: string; page: MetricsPage }> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { text, page: parsePrometheusText(text) };
}

/**
 * 10 payments; `slow` holds 2 (stalled), `fast` 4; group `audit` with none; 3 response streams;
 * 5 dead letters (3 × 1202, 2 × 2001); counters; a ledger backlog; lists 3 + 2 long.
 */
async function fill(redis: Redis): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    ids.push((await redis.xadd(STREAM, "*", "transaction_id", `t${i}`, "amount", "1.00"))!);
  }
  await redis.xgroup("CREATE", STREAM, GROUP, "0");
  await redis.xgroup("CREATE", STREAM, "audit", "$");
  await redis.xreadgroup("GROUP", GROUP, "slow", "COUNT", 3, "STREAMS", STREAM, ">");
  await redis.xack(STREAM, GROUP, ids[0]);
  for (const [backend, n] of [["1", 2], ["2", 5], ["10", 1]] as const) {
    for (let i = 0; i < n; i++) await redis.xadd(`${PREFIX}${backend}`, "*", "x", `${i}`);
  }
  for (const code of ["1202", "2001", "1202", "2001", "1202"]) {
    await redis.xadd(`${STREAM}:dlq`, "*", "original_id", "1-1", "error_code", code);
  }
  await redis.mset("processed_count", "1234", "total_amount_cents", "5000771810");
  await redis.set(ledgerBacklogKey(STREAM), "42");
  await redis.rpush(sourceListKey(0), "a", "b", "c");
  await redis.rpush(listProcessingKey("w1"), "a", "b");
  await sleep(IDLE_MS + 200);
  await redis.xreadgroup("GROUP", GROUP, "fast", "COUNT", 4, "STREAMS", STREAM, ">");
  return ids;
}

/** A private redis-server holding {@link fill}'s contents. */
async function filledRedis(): Promise<RedisServer> {
  const server = await startRedis();
  const redis = client(server.url);
  await fill(redis);
  redis.disconnect();
  return server;
}

const hasPromtool = await new Deno.Command("promtool", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test("exporter: exact numbers for known contents", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  await fill(redis);
  const running = await serveExporter(exporterOptions(server.url, {
    metrics: { ledgerMaxBacklog: 1000 },
  }));
  try {
    const { page } = await scrape(running.url);
    const v = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(page, name, labels);
    assert.equal(v("fastpix_queue_up"), 1);
    assert.equal(v("fastpix_queue_stream_length_entries"), 10);
    assert.equal(v("fastpix_queue_stream_entries_added_total"), 10);
    assert.ok(v("fastpix_queue_stream_last_entry_age_seconds") >= (IDLE_MS + 200) / 1000);
    assert.equal(v("fastpix_queue_group_lag_entries", { group: GROUP }), 3);
    assert.equal(v("fastpix_queue_group_lag_entries", { group: "audit" }), 0);
    assert.equal(v("fastpix_queue_group_pending_entries", { group: GROUP }), 6);
    // The oldest pending entry (ids[1], held by slow) was enqueued and delivered before the sleep.
    assert.ok(v("fastpix_queue_group_oldest_pending_age_seconds", { group: GROUP }) >= 0.6);
    assert.ok(v("fastpix_queue_group_oldest_pending_idle_seconds", { group: GROUP }) >= 0.6);
    assert.equal(v("fastpix_queue_group_oldest_pending_age_seconds", { group: "audit" }), 0);
    assert.equal(v("fastpix_queue_group_consumers", { group: GROUP, state: "active" }), 1);
    assert.equal(v("fastpix_queue_group_consumers", { group: GROUP, state: "stalled" }), 1);
    assert.equal(v("fastpix_queue_consumer_pending_entries", { consumer: "slow" }), 2);
    assert.equal(v("fastpix_queue_consumer_pending_entries", { consumer: "fast" }), 4);
    assert.equal(v("fastpix_queue_consumer_stalled", { consumer: "slow" }), 1);
    assert.equal(v("fastpix_queue_consumer_stalled", { consumer: "fast" }), 0);
    assert.equal(v("fastpix_queue_dlq_length_entries"), 5);
    assert.equal(v("fastpix_queue_dlq_entries_added_total"), 5);
    assert.equal(v("fastpix_queue_dlq_code_entries", { code: "1202" }), 3);
    assert.equal(v("fastpix_queue_dlq_code_entries", { code: "2001" }), 2);
    assert.equal(v("fastpix_queue_response_streams"), 3);
    assert.equal(v("fastpix_queue_response_streams_length_entries"), 8);
    assert.equal(v("fastpix_queue_response_stream_length_entries", { backend: "2" }), 5);
    assert.equal(v("fastpix_queue_list_length_entries", { key: sourceListKey(0) }), 3);
    assert.equal(v("fastpix_queue_lists_length_entries", { kind: "processing_list" }), 2);
    assert.equal(v("fastpix_queue_ledger_backlog_rows"), 42);
    assert.equal(v("fastpix_queue_ledger_backlog_max_rows"), 1000);
    assert.equal(v("fastpix_queue_processed_payments_total"), 1234);
    assert.equal(v("fastpix_queue_processed_amount_cents_total"), 5_000_771_810);

    const health = await (await fetch(`${running.url}/healthz`)).json();
    assert.equal(health.status, "ok");
    assert.equal(health.redis, "up");
    assert.equal(
      (await fetch(`${running.url}/nope`).then(async (r) => (await r.text(), r))).status,
      404,
    );
  } finally {
    await running.stop();
    redis.disconnect();
  }
});

Deno.test({
  name: "exporter: the live page passes promtool check metrics",
  ignore: !hasPromtool,
  ...INTEGRATION,
  fn: async () => {
    await using server = await filledRedis();
    const running = await serveExporter(exporterOptions(server.url));
    try {
      // As an operator would: curl the exporter and pipe the page to promtool.
      const out = await new Deno.Command("bash", {
        args: [
          "-o",
          "pipefail",
          "-c",
          `curl -sf '${running.url}/metrics' | promtool check metrics`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, said);
      assert.equal(said.trim(), "", `promtool complained:\n${said}`);
    } finally {
      await running.stop();
    }
  },
});

/** Calls of one command since the server started (`INFO commandstats`). */
async function calls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info("commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

Deno.test("exporter: a scrape storm costs one Redis round per interval", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  await fill(redis);
  // Scrapes within 60 s of each other are served the snapshot read at start.
  const cached = await serveExporter(exporterOptions(server.url, { intervalMs: 60_000 }));
  // Every scrape wants a new snapshot: concurrent ones share the refresh in flight.
  const eager = await serveExporter(exporterOptions(server.url, { intervalMs: 0 }));
  try {
    await scrape(cached.url);
    await scrape(eager.url);
    const before = await calls(redis, "time");
    const eagerBefore = eager.exporter.refreshes;
    const pages = await Promise.all(
      Array.from({ length: 100 }, (_, i) => scrape(i % 2 === 0 ? cached.url : eager.url)),
    );
    for (const { page } of pages) assert.equal(sampleValue(page, "fastpix_queue_up"), 1);
    assert.equal(cached.exporter.refreshes, 1);
    const eagerRounds = (await calls(redis, "time")) - before;
    assert.ok(eagerRounds >= 1 && eagerRounds <= 5, `${eagerRounds} rounds for 50 scrapes`);
    assert.equal(eager.exporter.refreshes - eagerBefore, eagerRounds);
  } finally {
    await cached.stop();
    await eager.stop();
    redis.disconnect();
  }
});

Deno.test(
  "exporter: dead letters counted by code exactly, across pages and a replay",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const pipe = redis.pipeline();
    for (let i = 0; i < 250; i++) {
      pipe.xadd(`${STREAM}:dlq`, "*", "error_code", i % 5 === 0 ? "2001" : "1202");
    }
    await pipe.exec();
    const running = await serveExporter(exporterOptions(server.url, { dlqCodePage: 100 }));
    const byCode = async () => {
      const { page } = await scrape(running.url);
      return Object.fromEntries(
        page.samples.filter((s) => s.name === "fastpix_queue_dlq_code_entries")
          .map((s) => [s.labels.code, s.value]),
      );
    };
    try {
      // 100 dead letters a refresh: no partial count is ever served.
      let seen: Record<string, number> = {};
      await waitFor("every dead letter counted", async () => {
        seen = await byCode();
        if (Object.keys(seen).length > 0) assert.deepEqual(seen, { 1202: 200, 2001: 50 });
        return Object.keys(seen).length > 0;
      });
      // A replay removes the 50 max-deliveries ones.
      const gone = (await redis.xrange(`${STREAM}:dlq`, "-", "+"))
        .filter(([, f]) => f[1] === "2001").map(([id]) => id);
      await redis.xdel(`${STREAM}:dlq`, ...gone);
      await waitFor("the count to follow the replay", async () => {
        seen = await byCode();
        return seen["2001"] === undefined;
      });
      assert.deepEqual(seen, { 1202: 200 });
      const { page } = await scrape(running.url);
      assert.equal(sampleValue(page, "fastpix_queue_dlq_length_entries"), 200);
      assert.equal(sampleValue(page, "fastpix_queue_dlq_entries_added_total"), 250);
    } finally {
      await running.stop();
      redis.disconnect();
    }
  },
);

Deno.test(
  "exporter: Redis dies and comes back; no stale numbers meanwhile",
  INTEGRATION,
  async () => {
    await using server = await filledRedis();
    const running = await serveExporter(exporterOptions(server.url));
    try {
      assert.equal(sampleValue((await scrape(running.url)).page, "fastpix_queue_up"), 1);
      await server.kill();
      let page!: MetricsPage;
      await waitFor("fastpix_queue_up 0", async () => {
        page = (await scrape(running.url)).page;
        return sampleValue(page, "fastpix_queue_up") === 0;
      });
      assert.ok(!page.samples.some((s) => s.name === "fastpix_queue_stream_length_entries"));
      assert.equal((await (await fetch(`${running.url}/healthz`)).json()).redis, "down");
      await server.restart();
      const back = client(server.url);
      await back.xadd(STREAM, "*", "transaction_id", "t1");
      back.disconnect();
      await waitFor("the exporter to read Redis again", async () => {
        page = (await scrape(running.url)).page;
        return sampleValue(page, "fastpix_queue_stream_length_entries") === 1;
      });
      assert.equal(sampleValue(page, "fastpix_queue_up"), 1);
    } finally {
      await running.stop();
    }
  },
);

Deno.test(
  "deno task monitor --metrics-port without a terminal: headless, SIGTERM exits 0",
  INTEGRATION,
  async () => {
    await using server = await filledRedis();
    const port = freePort();
    const child = new ChildTool("monitor/monitor_command.ts", {
      args: ["--metrics-port", String(port), "--idle-threshold-ms", String(IDLE_MS)],
      env: { REDIS_URL: server.url, LOG_LEVEL: "info" },
    });
    const base = `http://127.0.0.1:${port}`;
    let page!: MetricsPage;
    await waitFor("the exporter to serve", async () => {
      try {
        page = (await scrape(base)).page;
        return true;
      } catch {
        return false;
      }
    });
    assert.equal(sampleValue(page, "fastpix_queue_stream_length_entries"), 10);
    assert.equal(sampleValue(page, "fastpix_queue_consumer_stalled", { consumer: "slow" }), 1);
    // The default cap comes from LEDGER_MAX_BACKLOG, as the consumers read it.
    assert.equal(sampleValue(page, "fastpix_queue_ledger_backlog_max_rows"), 200_000);
    child.kill("SIGTERM");
    const { code, output } = await child.finished();
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`serving metrics on ${base}/metrics`));
    assert.ok(!output.includes("\x1b["), "the live screen was drawn");

    const both = await new ChildTool("monitor/monitor_command.ts", {
      args: ["--metrics-port", String(port), "--once"],
      env: { REDIS_URL: server.url },
    }).finished();
    assert.notEqual(both.code, 0);
    assert.match(both.output, /leave out --once\/--json/);
  },
);
