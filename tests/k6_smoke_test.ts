/**
 * `deno task k6:smoke` and the k6 scenarios under the real k6 (`K6`, else `k6` on PATH; these tests
 * are skipped without one): a short smoke of one scenario passes, `--report` writes the HTML
 * dashboard, and a run that measured nothing exits non-zero with its figures unknown, never 0.
 * Without any k6 the smoke skips in one line; with `K6` naming a missing file it fails.
 */
import assert from "node:assert/strict";
import { ChildTool, freePort } from "@fastpix/testing";
import { k6Exists } from "../loadtest/k6_runner.ts";
import { crashAllowance, smokeRows } from "../loadtest/k6_smoke.ts";
import { INTEGRATION } from "./_helpers.ts";

const K6 = Deno.env.get("K6") || (await k6Exists("k6") ? "k6" : undefined);
const REAL = { ...INTEGRATION, ignore: K6 === undefined };

Deno.test("without any k6 the smoke says so in one line and exits 0", INTEGRATION, async () => {
  // A PATH with nothing but sh: no k6 on it, whatever this machine has installed.
  const bin = await Deno.makeTempDir({ prefix: "fastpix-no-k6-" });
  await Deno.symlink("/bin/sh", `${bin}/sh`);
  const run = new ChildTool("loadtest/k6_smoke_command.ts", { env: { K6: "", PATH: bin } });
  const { code, output } = await run.finished();
  assert.equal(code, 0, output);
  const lines = output.trim().split("\n");
  assert.equal(lines.length, 1, output);
  assert.match(lines[0], /^k6 smoke skipped: no k6 found/);
  await Deno.remove(bin, { recursive: true });
});

Deno.test("with K6 naming a file that is not there the smoke fails", INTEGRATION, async () => {
  const run = new ChildTool("loadtest/k6_smoke_command.ts", {
    env: { K6: "/nonexistent/fastpix/k6" },
  });
  const { code, output } = await run.finished();
  assert.equal(code, 2, output);
  assert.match(output.trim(), /^k6:smoke: k6 is not installed \(no executable \/nonexistent/);
});

Deno.test("the smoke holds a design to no loss unless a crash and its guarantee allow it", () => {
  assert.deepEqual(crashAllowance("stream"), { loss: false, twice: false });
  assert.deepEqual(crashAllowance("basic"), { loss: false, twice: true });
  assert.deepEqual(crashAllowance("list"), { loss: true, twice: false });
  assert.deepEqual(crashAllowance("list-reliable"), { loss: false, twice: false });
  const soak = (lost: number) => ({
    results: [{
      design: "list",
      offeredRate: 100,
      throughput: [{ perSecond: 99 }],
      accepted: 600,
      gatewayEnqueued: 600,
      redisProcessed: 600 - lost,
      lost,
      countedTwice: 0,
    }],
  });
  // The soak crashes a consumer: plain list may lose; without a crash nothing may be lost.
  assert.deepEqual(smokeRows("soak", soak(3))[0].failures, []);
  const direct = {
    results: [{
      design: "list",
      offeredRate: 100,
      throughput: [{ perSecond: 70 }],
      enqueued: 210,
      processed: 209,
      lost: 1,
    }],
  };
  assert.deepEqual(smokeRows("redis_direct", direct)[0].failures, [
    "served 70/s of 100/s offered (under 80%)",
    "enqueued 210 but processed 209",
  ]);
  assert.deepEqual(smokeRows("designs", { results: [] })[0].failures, [
    "the summary has no results",
  ]);
});

Deno.test("real k6: a short smoke of the soak passes", REAL, async () => {
  const results = await Deno.makeTempDir({ prefix: "fastpix-k6-smoke-" });
  const run = new ChildTool("loadtest/k6_smoke_command.ts", {
    args: ["--scenarios", "soak", "--results", results],
    env: { K6: K6!, LOG_LEVEL: "warn" },
  });
  const { code, output } = await run.finished();
  assert.equal(code, 0, output);
  assert.match(output, /^soak +stream +offered 100\/s .* ok$/m);
  assert.match(output, /^k6 smoke: 1 of 1 scenarios passed/m);
  await Deno.remove(results, { recursive: true });
});

Deno.test("real k6: --report writes the HTML dashboard of a short run", REAL, async () => {
  const results = await Deno.makeTempDir({ prefix: "fastpix-k6-report-" });
  const run = new ChildTool("loadtest/k6_command.ts", {
    args: ["redis_direct", "--designs", "stream", "--report", "--results", results, "--", "-q"],
    env: { K6: K6!, LOG_LEVEL: "warn", DURATION: "2s", RATE: "20", P99_MS: "2000" },
  });
  const { code, output } = await run.finished();
  assert.equal(code, 0, output);
  const html = /^report: (\S+)$/m.exec(output)?.[1];
  assert.ok(html !== undefined, output);
  const page = await Deno.readTextFile(html);
  assert.match(page, /<html/i);
  assert.ok(page.length > 10_000, `${html} has ${page.length} characters`);
  await Deno.remove(results, { recursive: true });
});

Deno.test(
  "real k6: a run that measured nothing exits non-zero and reports nothing as 0",
  REAL,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "fastpix-k6-nothing-" });
    const script = new URL("../loadtest/k6/redis_direct.ts", import.meta.url).pathname;
    // Nothing listens on this port: every enqueue fails, and the drain check cannot run.
    const redisUrl = `redis://127.0.0.1:${freePort()}`;
    const env = { REDIS_URL: redisUrl, DURATION: "1s", RATE: "5", SUMMARY_JSON: `${dir}/s.json` };
    const { code, stdout } = await new Deno.Command(K6!, {
      args: ["run", "-q", ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const printed = new TextDecoder().decode(stdout);
    assert.notEqual(code, 0, printed);
    assert.match(printed, /^FAILED: stream: nothing was enqueued/m);
    assert.doesNotMatch(printed, /^\s*stream\b.*\b0\s+0\s*$/m, "lost and twice printed as 0");
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/s.json`));
    assert.equal(summary.ok, false);
    assert.equal(summary.results[0].enqueued, 0);
    assert.equal(summary.results[0].processed, null);
    assert.equal(summary.results[0].lost, null);
    await Deno.remove(dir, { recursive: true });
  },
);
