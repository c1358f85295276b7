/**
 * The monitor against real redis-server processes: the snapshot's numbers for known contents, the
 * one-round refresh, 1,000 response streams, outages, `--once`/`--json` as child processes, and the
 * live screen inside tmux (drawn, Redis killed under it, quit with q).
 */
import assert from "node:assert/strict";
import { type Snapshot, snapshot, type SnapshotOptions, SnapshotState } from "@fastpix/monitor";
import { StreamConsumer } from "@fastpix/consumer";
import { createRedis, type Logger, type Redis, sleep } from "@fastpix/infra";
import { listProcessingKey, sourceListKey } from "@fastpix/pix";
import {
  ChildTool,
  client,
  consumerOptions,
  INTEGRATION,
  sendPayments,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const STREAM = "pix_payments";
const GROUP = "pix_consumers";
const PREFIX = "backend_bacen_response_";
const IDLE_MS = 400;

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A client like the monitor's: fails fast during outages. */
const monitorClient = (url: string) => createRedis(url, { failFast: true, logger: SILENT });

function options(url: string, overrides: Partial<SnapshotOptions> = {}): SnapshotOptions {
  return {
    redisUrl: url,
    stream: STREAM,
    group: GROUP,
    responsePrefix: PREFIX,
    idleThresholdMs: IDLE_MS,
    ...overrides,
  };
}

/**
 * Known contents: 10 payments; group pix_consumers where `slow` holds 2 entries and has been idle
 * longer than IDLE_MS (stalled) and `fast` just took 4; group `audit` with no consumers; response
 * streams 1 (2 entries), 2 (5), 10 (1) and a string under the prefix; 5 dead letters (3 × 1202,
 * 2 × 2001); counters; one latency summary (and one malformed); lists 3 + 1 + 2 long.
 */
async function fill(redis: Redis): Promise<{ ids: string[]; responseLastIds: string[] }> {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    ids.push(
      (await redis.xadd(
        STREAM,
        "*",
        "transaction_id",
        `t${i}`,
        "backend_id",
        "1",
        "amount",
        "1.00",
      ))!,
    );
  }
  await redis.xgroup("CREATE", STREAM, GROUP, "0");
  await redis.xgroup("CREATE", STREAM, "audit", "$");
  await redis.xreadgroup("GROUP", GROUP, "slow", "COUNT", 3, "STREAMS", STREAM, ">");
  await redis.xack(STREAM, GROUP, ids[0]);
  const responseLastIds: string[] = [];
  for (const [backend, n] of [["1", 2], ["2", 5], ["10", 1]] as const) {
    let last = "";
    for (let i = 0; i < n; i++) {
      last = (await redis.xadd(`${PREFIX}${backend}`, "*", "transaction_id", `r${i}`))!;
    }
    responseLastIds.push(last);
  }
  await redis.set(`${PREFIX}bogus`, "not a stream");
  for (const code of ["1202", "2001", "1202", "2001", "1202"]) {
    await redis.xadd(`${STREAM}:dlq`, "*", "original_id", "1-1", "error_code", code, "reason", "x");
  }
  await redis.mset(
    "processed_count",
    "1234",
    "total_amount_cents",
    "5000771810",
    "total_amount",
    "50007718.10",
  );
  await redis.hset("pix:latency", {
    fast: JSON.stringify({ count: 4, p50: 1.5, p95: 3.25, p99: 4, max: 4.5, mean: 2, at: "x" }),
    broken: "{not json",
  });
  await redis.rpush(sourceListKey(0), "a", "b", "c");
  await redis.rpush(sourceListKey(1), "a");
  await redis.rpush(listProcessingKey("w1"), "a", "b");
  await sleep(IDLE_MS + 200);
  await redis.xreadgroup("GROUP", GROUP, "fast", "COUNT", 4, "STREAMS", STREAM, ">");
  return { ids, responseLastIds };
}

Deno.test("snapshot: exact numbers for known contents", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  const { ids, responseLastIds } = await fill(redis);
  const monitor = monitorClient(server.url);
  try {
    const s = await snapshot(monitor, options(server.url, { completeScan: true }));
    assert.equal(s.available, true, String(s.error));
    assert.deepEqual(s.counters, {
      processed: 1234,
      totalBrl: "50007718.10",
      totalSource: "total_amount_cents",
    });
    assert.equal(s.streamInfo?.length, 10);
    assert.equal(s.streamInfo?.firstEntryId, ids[0]);
    assert.equal(s.streamInfo?.lastEntryId, ids[9]);
    assert.equal(s.streamInfo?.lastGeneratedId, ids[9]);
    assert.ok(s.streamInfo!.memoryBytes! > 0);

    assert.deepEqual(s.groups.map((g) => [g.name, g.pending, g.lag, g.entriesRead]), [
      ["audit", 0, 0, null],
      [GROUP, 6, 3, 7],
    ]);
    const consumers = s.groups[1].consumers;
    assert.deepEqual(consumers.map((c) => [c.name, c.pending, c.stalled]), [
      ["fast", 4, false],
      ["slow", 2, true],
    ]);
    assert.ok(consumers[1].idleMs > IDLE_MS, `slow idle ${consumers[1].idleMs}`);
    assert.ok(consumers[0].idleMs < IDLE_MS, `fast idle ${consumers[0].idleMs}`);
    assert.deepEqual(s.processor, {
      groupExists: true,
      pending: 6,
      lag: 3,
      consumers: 2,
      activeConsumers: 1,
      stalledConsumers: 1,
    });

    assert.deepEqual(s.responses.streams.map((r) => [r.backendId, r.length, r.lastId]), [
      ["1", 2, responseLastIds[0]],
      ["2", 5, responseLastIds[1]],
      ["10", 1, responseLastIds[2]],
    ]);
    assert.equal(s.responses.totalLength, 8);
    assert.equal(s.responses.scanComplete, true);

    assert.deepEqual(s.dlq, {
      key: "pix_payments:dlq",
      length: 5,
      sampled: 5,
      topCodes: [
        { code: "1202", name: "AMOUNT_FORMAT", count: 3 },
        { code: "2001", name: "MAX_DELIVERIES_EXCEEDED", count: 2 },
      ],
    });
    assert.deepEqual(s.latency, [
      { consumer: "fast", count: 4, p50: 1.5, p95: 3.25, p99: 4, max: 4.5, mean: 2, at: "x" },
    ]);
    assert.deepEqual(s.lists, [
      { key: sourceListKey(0), kind: "source_list", length: 3 },
      { key: sourceListKey(1), kind: "source_list", length: 1 },
      { key: listProcessingKey("w1"), kind: "processing_list", length: 2 },
    ]);
    assert.equal(s.server?.version.split(".").length, 3);

    // Only 10 dead letters are sampled for the top codes when asked.
    const sampled = await snapshot(
      monitor,
      options(server.url, { completeScan: true, dlqSample: 2 }),
    );
    assert.equal(sampled.dlq.sampled, 2);
    assert.equal(sampled.dlq.topCodes.reduce((n, c) => n + c.count, 0), 2);
  } finally {
    monitor.disconnect();
    redis.disconnect();
  }
});

Deno.test(
  "snapshot: one round per refresh; new keys are found by the running SCAN",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await fill(redis);
    const monitor = monitorClient(server.url);
    try {
      const state = new SnapshotState(PREFIX, 1000);
      const first = await snapshot(monitor, options(server.url, { state }));
      // Nothing known yet: the first refresh's SCAN step finds the keys, a second round reads the
      // new groups' consumers.
      assert.equal(first.rounds, 2);
      assert.equal(first.responses.streams.length, 0);
      const second = await snapshot(monitor, options(server.url, { state }));
      assert.equal(second.rounds, 1);
      assert.equal(second.responses.streams.length, 3);
      assert.equal(second.lists.length, 3);

      await redis.xadd(`${PREFIX}99`, "*", "transaction_id", "new");
      await redis.del(sourceListKey(1));
      await snapshot(monitor, options(server.url, { state }));
      const third = await snapshot(monitor, options(server.url, { state }));
      assert.equal(third.rounds, 1);
      assert.deepEqual(third.responses.streams.map((r) => r.backendId), ["1", "2", "10", "99"]);
      assert.deepEqual(third.lists.map((l) => l.key), [sourceListKey(0), listProcessingKey("w1")]);
    } finally {
      monitor.disconnect();
      redis.disconnect();
    }
  },
);

Deno.test(
  "snapshot: a missing stream and a dead Redis are reported, never thrown",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const monitor = monitorClient(server.url);
    try {
      const state = new SnapshotState(PREFIX);
      const empty = await snapshot(monitor, options(server.url, { state }));
      assert.equal(empty.available, true);
      assert.equal(empty.streamInfo, null);
      assert.deepEqual(empty.groups, []);
      assert.equal(empty.processor.groupExists, false);

      await server.kill();
      const down = await snapshot(monitor, options(server.url, { state }));
      assert.equal(down.available, false);
      assert.match(down.error!, /ECONNREFUSED|closed|writeable/i);
      assert.ok(down.durationMs < 1000, `took ${down.durationMs} ms`);

      await server.restart();
      const redis = client(server.url);
      await redis.xadd(STREAM, "*", "transaction_id", "t1");
      redis.disconnect();
      await waitFor("the monitor's client to reconnect", async () => {
        const s = await snapshot(monitor, options(server.url, { state }));
        return s.available && s.streamInfo?.length === 1;
      });
    } finally {
      monitor.disconnect();
    }
  },
);

Deno.test(
  "snapshot: 1,000 response streams among 20,000 keys refresh within the interval",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const pipe = redis.pipeline();
    for (let i = 1; i <= 1000; i++) {
      pipe.xadd(`${PREFIX}${i}`, "*", "transaction_id", `t${i}`, "status", "confirmed");
    }
    for (let i = 0; i < 20_000; i += 1000) {
      pipe.mset(...Array.from({ length: 1000 }, (_, j) => [`pix:done:${i + j}`, "1-1"]).flat());
    }
    await pipe.exec();
    await redis.xadd(STREAM, "*", "transaction_id", "t");
    const monitor = monitorClient(server.url);
    try {
      // As the live screen does: one SCAN step per refresh until the first pass completes.
      const state = new SnapshotState(PREFIX, 1000);
      let refreshes = 0;
      let worst = 0;
      let s;
      do {
        s = await snapshot(monitor, options(server.url, { state }));
        worst = Math.max(worst, s.durationMs);
        refreshes++;
      } while (!s.responses.scanComplete && refreshes < 100);
      assert.ok(refreshes > 1 && refreshes < 100, `${refreshes} refreshes to discover`);
      for (let i = 0; i < 5; i++) {
        s = await snapshot(monitor, options(server.url, { state }));
        assert.equal(s.rounds, 1);
        worst = Math.max(worst, s.durationMs);
      }
      assert.equal(s.responses.streams.length, 1000);
      assert.equal(s.responses.totalLength, 1000);
      assert.equal(s.responses.streams[999].backendId, "1000");
      // A correctness bound, not a benchmark: the default interval is 500 ms.
      assert.ok(worst < 500, `slowest refresh took ${worst.toFixed(1)} ms`);
    } finally {
      monitor.disconnect();
      redis.disconnect();
    }
  },
);

/**
 * Keeps consumer `fast` looking alive (re-reading its own pending entries every 100 ms refreshes
 * its idle time without changing pending or lag) while a child process starts up and reads.
 */
function keepFresh(url: string, consumer = "fast"): { stop(): Promise<void> } {
  const redis = client(url);
  let running = true;
  const loop = (async () => {
    while (running) {
      await redis.xreadgroup("GROUP", GROUP, consumer, "COUNT", 1, "STREAMS", STREAM, "0")
        .catch(() => {});
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      redis.disconnect();
    },
  };
}

function monitorTool(url: string, args: string[]): ChildTool {
  return new ChildTool("monitor/monitor_command.ts", {
    args: ["--interval", "0.2", "--idle-threshold-ms", String(IDLE_MS), ...args],
    env: { REDIS_URL: url, LOG_LEVEL: "warn" },
  });
}

Deno.test("--json and --once print the snapshot; a dead Redis exits 2", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  await fill(redis);
  redis.disconnect();
  const fresh = keepFresh(server.url);

  const json = await monitorTool(server.url, ["--json"]).finished();
  assert.equal(json.code, 0, json.output);
  const s = JSON.parse(json.output);
  assert.equal(s.counters.processed, 1234);
  assert.equal(s.counters.totalBrl, "50007718.10");
  assert.equal(s.streamInfo.length, 10);
  assert.deepEqual(
    s.groups[1].consumers.map((c: { name: string; pending: number; stalled: boolean }) => [
      c.name,
      c.pending,
      c.stalled,
    ]),
    [["fast", 4, false], ["slow", 2, true]],
  );
  assert.deepEqual(s.responses.streams.map((r: { backendId: string }) => r.backendId), [
    "1",
    "2",
    "10",
  ]);
  assert.equal(s.dlq.length, 5);
  assert.equal(s.processingRate.perSecond, 0);
  assert.equal(s.processingRate.windowMs, 200);

  const once = await monitorTool(server.url, ["--once"]).finished();
  assert.equal(once.code, 0, once.output);
  assert.ok(!once.output.includes("\x1b"), "escape codes in --once output");
  for (
    const line of [
      /│ processed +│ +1,234 │/,
      /│ total BRL +│ +50,007,718\.10 │/,
      /│ pending +│ +6 │/,
      /│ consumers +│ +1\/2 active, 1 stalled │/,
      /│ length +│ +10 │/,
      /│ └ slow +│ +2 │ .* │ STALLED │/,
      /│ backend 2 +│ +5 │/,
      /│ 1202 amount format +│ +3 │/,
      /│ fast +│ +1\.50 │ +3\.25 │ +4\.00 │ +4\.50 │/,
      /│ source_list_0 +│ +3 │/,
      /│ Dead letters 5 +│ of last 5 │/,
    ]
  ) assert.match(once.output, line);

  await fresh.stop();
  await server.kill();
  const down = await monitorTool(server.url, ["--json"]).finished();
  assert.equal(down.code, 2);
  const d = JSON.parse(down.output);
  assert.equal(d.available, false);
  assert.match(d.error, /ECONNREFUSED/);
});

Deno.test(
  "a running consumer publishes its last 10 s, which the monitor reads and labels",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const monitor = monitorClient(server.url);
    const consumer = new StreamConsumer(consumerOptions(server.url));
    const running = consumer.run();
    try {
      await sendPayments(redis, 50);
      let s: Snapshot | undefined;
      await waitFor("the consumer to publish a window of 50 payments", async () => {
        s = await snapshot(monitor, options(server.url));
        return s.latency[0]?.window?.count === 50;
      });
      const [l] = s!.latency;
      assert.equal(l.consumer, "test_consumer");
      assert.equal(l.count, 50);
      assert.equal(l.window!.seconds, 10);
      assert.ok(l.window!.p50 <= l.window!.p99 && l.window!.p99 <= l.window!.max, String(l));

      const once = await monitorTool(server.url, ["--once"]).finished();
      assert.equal(once.code, 0, once.output);
      assert.match(once.output, /│ test_consumer +│.*\n│ └ last 10 s +│( +[\d.,—]+ │){4}/);
    } finally {
      consumer.stop();
      await running;
      monitor.disconnect();
      redis.disconnect();
    }
  },
);

/** A private tmux server (its own socket) holding one window of a fixed size. */
class Tmux {
  readonly socket = `fastpix-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Error(
        "tmux is not installed: install it (Debian: apt-get install tmux; .ci/run does)",
      );
    });
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return text;
  }

  /** The visible screen, one string per row. */
  async screen(): Promise<string[]> {
    return (await this.run("capture-pane", "-p", "-t", "monitor")).replace(/\n$/, "").split("\n");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.run("kill-server").catch(() => {});
  }
}

Deno.test(
  "live screen in tmux: draws in 80x24, survives a Redis outage, q restores the terminal",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await fill(redis);
    redis.disconnect();
    const fresh = keepFresh(server.url);

    await using tmux = new Tmux();
    const script = new URL("../monitor/monitor_command.ts", import.meta.url).pathname;
    const command = [
      `REDIS_URL=${server.url}`,
      "LOG_LEVEL=warn",
      `'${Deno.execPath()}' run -A '${script}' --interval 0.2 --idle-threshold-ms ${IDLE_MS};`,
      "echo monitor-exited=$?; sleep 600",
    ].join(" ");
    await tmux.run("new-session", "-d", "-s", "monitor", "-x", "80", "-y", "24", command);
    let screen: string[] = [];
    const showing = (pattern: RegExp, timeoutMs = 20_000) =>
      waitFor(`the screen to show ${pattern}`, async () => {
        screen = await tmux.screen();
        return pattern.test(screen.join("\n"));
      }, timeoutMs).catch((error) => {
        throw new Error(`${error.message}; screen:\n${screen.join("\n")}`);
      });

    await showing(/backend 10/);
    const text = screen.join("\n");
    assert.equal(screen.length, 24);
    for (const line of screen) assert.ok(line.length <= 80, `too wide: ${line}`);
    assert.match(
      screen[0],
      /^PIX monitor · redis:\/\/127\.0\.0\.1:\d+ · pix_payments\/pix_consumers +\d\d:\d\d:\d\d$/,
    );
    for (
      const wanted of [
        /processed +1,234 /,
        /total BRL +50,007,718\.10 /,
        /consumers +1\/2 active, 1 stalled /,
        /└ slow +2 .* STALLED/,
        /└ fast +4 /,
        /audit +0 +lag 0/,
        /backend 2 +5 /,
        /Dead letters 5 +of last 5/,
        /1202 amount format +3/,
        /source_list_0 +3/,
        new RegExp(`${listProcessingKey("w1")} +2`),
        /fast +1\.50 +3\.25 +4\.00 +4\.50/,
        /q quits · every 200 ms/,
      ]
    ) assert.match(text, wanted);

    // Stalled consumers are highlighted (red), live ones are not.
    const colored = (await tmux.run("capture-pane", "-p", "-e", "-t", "monitor")).split("\n");
    /** The escape sequences between the column separator and `text`. */
    const styleBefore = (text: string) => {
      const line = colored.find((l) => l.includes(text)) ?? "";
      const at = line.indexOf(text);
      return line.slice(line.lastIndexOf("│", at), at);
    };
    // deno-lint-ignore no-control-regex
    const RED = /\x1b\[([0-9;]*;)?31(;[0-9;]*)?m/;
    assert.match(styleBefore("└ slow"), RED);
    assert.doesNotMatch(styleBefore("└ fast"), RED);

    // Really stop Redis: the screen says so, keeps the last data, and keeps retrying.
    await fresh.stop();
    await server.kill();
    await showing(/Redis unavailable: .*ECONNREFUSED.* retrying every 200 ms/);
    assert.match(screen[0], /\(data from \d\d:\d\d:\d\d\)/);
    assert.match(screen.join("\n"), /processed +1,234 /);

    // Back (empty: no persistence): the screen follows.
    await server.restart();
    await showing(/Stream pix_payments does not exist yet · retrying every 200 ms/);

    await tmux.run("send-keys", "-t", "monitor", "q");
    await showing(/monitor-exited=0/);
    assert.ok(
      !screen.some((l) => l.includes("Processor")),
      `screen not restored:\n${screen.join("\n")}`,
    );
  },
);
