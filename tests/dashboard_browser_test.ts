/**
 * The dashboard page in headless Chromium (Debian's `chromium`), under live load: a private
 * redis-server, `deno task consume`, payments injected all along, a consumer sitting on its
 * entries, and `deno task dashboard` with an API key. Playwright drives the browser from Node.js
 * (dashboard_browser.mjs: Playwright hangs under Deno): log in, the charts gain points, the
 * stalled consumer shows STALLED, a dead letter is replayed from the page (confirm dialog) and then
 * counted, the lookup finds a confirmed and a dead-lettered payment (masked, then revealed).
 * Screenshots go to DASHBOARD_SCREENSHOTS_DIR (default .test-results/dashboard/; docs/img/ for the
 * docs). Skipped only when chromium is not installed (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type {} from "playwright-core";
import { sleep } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import {
  addRaw,
  ChildTool,
  client,
  INTEGRATION,
  sendPayments,
  spawnConsumer,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const STREAM = "pix_payments";
const KEY = "browser-test-key-0123456789";

/** The first `chromium` on the PATH, or undefined. */
function findChromium(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

const CHROMIUM = findChromium();

/** A port that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Sends `perTick` payments every 100 ms until stopped. */
function injectAlongside(url: string, perTick: number): { stop(): Promise<number> } {
  const redis = client(url);
  let running = true;
  let sent = 0;
  const loop = (async () => {
    while (running) {
      await sendPayments(redis, perTick, { backendIds: ["1", "2", "3"] }).catch(() => {});
      sent += perTick;
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      redis.disconnect();
      return sent;
    },
  };
}

Deno.test({
  name: "browser: live charts, STALLED consumer, replay from the page, lookup (Chromium)",
  ignore: CHROMIUM === undefined,
  ...INTEGRATION,
  async fn() {
    await using server = await startRedis();
    const redis = client(server.url);
    // A consumer that took two payments and then said nothing: stalled past 1.5 s. (It reads
    // before the live consumer starts; that one does not reclaim them during the test.)
    await redis.xgroup("CREATE", STREAM, "pix_consumers", "0", "MKSTREAM");
    await sendPayments(redis, 2);
    await redis.xreadgroup("GROUP", "pix_consumers", "stuck-worker", "STREAMS", STREAM, ">");
    const consumer = spawnConsumer(server.url, {
      name: "worker-1",
      env: { IDLE_THRESHOLD_MS: "600000" },
    });
    const load = injectAlongside(server.url, 10);
    const port = freePort();
    const dashboard = new ChildTool("dashboard/dashboard_command.ts", {
      args: ["--port", String(port), "--interval", "1", "--idle-threshold-ms", "1500"],
      env: { REDIS_URL: server.url, DASHBOARD_API_KEYS: KEY, LOG_LEVEL: "info" },
    });
    const userDataDir = await Deno.makeTempDir({ prefix: "fastpix-chromium-" });
    const screenshots = Deno.env.get("DASHBOARD_SCREENSHOTS_DIR") ?? ".test-results/dashboard";
    await Deno.mkdir(screenshots, { recursive: true });
    try {
      // One payment confirmed, one rejected (its payer key is no PIX key), one dead letter whose
      // payment is valid (as after MAX_DELIVERIES): the page replays it.
      const [confirmed] = await sendPayments(redis, 1, { backendIds: ["1"] });
      const invalidTx = `invalid-${crypto.randomUUID()}`;
      const invalidPayerKey = "not-a-pix-key";
      await addRaw(redis, {
        transaction_id: invalidTx,
        backend_id: "2",
        amount: "12.34",
        timestamp: new Date().toISOString(),
        payer_key: invalidPayerKey,
        payer_name: "Joana Pereira",
      });
      const replayed = makePayment({ backendId: "3" });
      const replayLetterId = (await redis.xadd(
        `${STREAM}:dlq`,
        "*",
        "original_id",
        "1-1",
        "fields",
        JSON.stringify(replayed),
        "error_code",
        "2001",
        "reason",
        "Delivered 5 times without being processed",
        "deliveries",
        "5",
        "consumer",
        "worker-0",
        "failed_at",
        new Date().toISOString(),
      ))!;
      await waitFor(
        "the consumer to confirm one payment and dead-letter another",
        async () =>
          (await redis.exists(`pix:done:${confirmed.transaction_id}`)) === 1 &&
          (await redis.xlen(`${STREAM}:dlq`)) === 2,
        60_000,
      );
      const url = `http://127.0.0.1:${port}`;
      await waitFor("the dashboard to listen", async () => {
        const r = await fetch(`${url}/login`).catch(() => undefined);
        await r?.body?.cancel();
        return r?.status === 200;
      }, 60_000);
      const processedBefore = Number(await redis.get("processed_count"));

      const require = createRequire(import.meta.url);
      const playwright = require.resolve("playwright-core").replace(/\/index\.js$/, "");
      const input = {
        url,
        key: KEY,
        playwright,
        chromium: CHROMIUM,
        userDataDir,
        screenshots: await Deno.realPath(screenshots),
        stalledConsumer: "stuck-worker",
        replayLetterId,
        replayTx: replayed.transaction_id,
        invalidTx,
        invalidPayerKey,
        confirmedTx: confirmed.transaction_id,
      };
      const node = new Deno.Command("node", {
        args: [new URL("./dashboard_browser.mjs", import.meta.url).pathname],
        env: { DASHBOARD_BROWSER_TEST: JSON.stringify(input) },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => node.kill("SIGKILL"), 240_000);
      const { code, stdout, stderr } = await node.output().finally(() => clearTimeout(timer));
      const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      const lines = output.trim().split("\n");
      assert.equal(code, 0, output);
      assert.equal(lines.at(-1), "ok", output);

      // What the page did, seen in Redis: the letter is gone and its payment counted.
      assert.equal((await redis.xrange(`${STREAM}:dlq`, replayLetterId, replayLetterId)).length, 0);
      assert.equal(await redis.exists(`pix:done:${replayed.transaction_id}`), 1);
      assert.ok(Number(await redis.get("processed_count")) > processedBefore);
      for (const name of ["overview", "dead-letters", "lookup", "lookup-dead-letter"]) {
        const png = await Deno.readFile(`${screenshots}/dashboard-${name}.png`);
        assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], `${name} is a PNG`);
      }
    } finally {
      await load.stop();
      dashboard.kill("SIGTERM");
      consumer.kill("SIGTERM");
      const [d, c] = await Promise.all([dashboard.finished(), consumer.finished()]);
      redis.disconnect();
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
      assert.equal(d.code, 0, d.output);
      assert.equal(c.code, 0, c.output);
    }
  },
});
