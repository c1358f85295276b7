/**
 * `deno task k6`: without k6 it says where to get it in one line and exits non-zero; with a
 * stand-in k6 it starts Redis, the consumer and the gateway (for `rinha`, the Rinha backend and
 * its processor simulators), hands k6 their addresses, merges the summaries and stops everything;
 * a run whose summary reports a problem, or that wrote none, fails; `--report` asks k6 for its
 * HTML dashboard.
 */
import assert from "node:assert/strict";
import { ChildTool } from "@fastpix/testing";
import { INTEGRATION } from "./_helpers.ts";

async function fakeK6(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fastpix-fake-k6-" });
  const path = `${dir}/k6`;
  const script = new URL("./fake_k6.ts", import.meta.url).pathname;
  await Deno.writeTextFile(path, `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${script}" "$@"\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("without k6: one line saying where to get it, exit 2", INTEGRATION, async () => {
  const run = new ChildTool("loadtest/k6_command.ts", {
    args: ["designs"],
    env: { K6: "k6-that-is-not-installed" },
  });
  const { code, output } = await run.finished();
  assert.equal(code, 2);
  const lines = output.trim().split("\n");
  assert.equal(lines.length, 1, output);
  assert.match(
    lines[0],
    /k6 is not installed.*https:\/\/grafana\.com\/docs\/k6\/latest\/set-up\/install-k6\//,
  );
});

Deno.test(
  "with k6: per design Redis, consumer and gateway up for the run, summaries merged, all stopped",
  INTEGRATION,
  async () => {
    const results = await Deno.makeTempDir({ prefix: "fastpix-k6-results-" });
    const run = new ChildTool("loadtest/k6_command.ts", {
      args: ["designs", "--results", results],
      env: { K6: await fakeK6(), RATE: "123", LOG_LEVEL: "warn" },
    });
    const { code, output } = await run.finished();
    assert.equal(code, 0, output);
    const path = /summary: (\S+)/.exec(output)?.[1];
    assert.ok(path !== undefined, output);
    const summary = JSON.parse(await Deno.readTextFile(path));
    assert.equal(summary.scenario, "designs");
    assert.deepEqual(summary.results.map((r: { design: string }) => r.design), [
      "stream",
      "basic",
      "list",
      "list-reliable",
    ]);
    for (const r of summary.results) {
      assert.match(r.script, /loadtest\/k6\/designs\.ts$/);
      assert.equal(r.env.RATE, "123");
      assert.equal(r.env.DESIGNS, r.design);
      // The payment went through the gateway into the design, and its consumer confirmed it.
      if (r.design === "basic") {
        assert.equal(r.answer.status, 202);
      } else {
        assert.equal(r.answer.status, 200, JSON.stringify(r.answer));
        assert.equal(r.answer.body.status, "confirmed");
        assert.equal(r.answer.body.processed_amount, "19.90");
      }
      // Everything it started is gone.
      for (const url of [r.env.BASE_URL, r.env.REDIS_URL.replace("redis:", "http:")]) {
        await assert.rejects(
          Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) }),
          url,
        );
      }
    }
    await Deno.remove(results, { recursive: true });
  },
);

/** The ports of every URL, closed once the run is over. */
async function assertClosed(urls: string[]): Promise<void> {
  for (const url of urls) {
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) }),
      url,
    );
  }
}

Deno.test(
  "a summary that reports a problem, or no summary, fails the run: FAILED lines, non-zero exit",
  INTEGRATION,
  async () => {
    const results = await Deno.makeTempDir({ prefix: "fastpix-k6-results-" });
    const k6 = await fakeK6();
    const problem = new ChildTool("loadtest/k6_command.ts", {
      args: ["redis_direct", "--designs", "stream", "--results", results],
      env: { K6: k6, LOG_LEVEL: "warn", FAKE_K6_PROBLEM: "nothing was enqueued" },
    });
    const failed = await problem.finished();
    assert.equal(failed.code, 1, failed.output);
    assert.match(failed.output, /^FAILED: stream: nothing was enqueued$/m);
    const path = /summary: (\S+)/.exec(failed.output)?.[1];
    assert.ok(path !== undefined, failed.output);
    const summary = JSON.parse(await Deno.readTextFile(path));
    assert.equal(summary.ok, false);
    assert.deepEqual(summary.problems, ["stream: nothing was enqueued"]);

    const silent = new ChildTool("loadtest/k6_command.ts", {
      args: ["redis_direct", "--designs", "stream", "--results", results],
      env: { K6: k6, LOG_LEVEL: "warn", FAKE_K6_NO_SUMMARY: "1" },
    });
    const none = await silent.finished();
    assert.notEqual(none.code, 0, none.output);
    assert.match(none.output, /^FAILED: stream: k6 wrote no summary/m);

    const exit = new ChildTool("loadtest/k6_command.ts", {
      args: ["redis_direct", "--designs", "stream", "--results", results],
      env: { K6: k6, LOG_LEVEL: "warn", FAKE_K6_EXIT: "99" },
    });
    const crossed = await exit.finished();
    assert.equal(crossed.code, 99, crossed.output);
    assert.match(
      crossed.output,
      /^FAILED: stream: k6 exited with code 99 \(thresholds crossed\)$/m,
    );
    await Deno.remove(results, { recursive: true });
  },
);

Deno.test(
  "--report: k6 gets its web dashboard on, sampled every second, exported beside the summary",
  INTEGRATION,
  async () => {
    const results = await Deno.makeTempDir({ prefix: "fastpix-k6-results-" });
    const run = new ChildTool("loadtest/k6_command.ts", {
      args: ["redis_direct", "--designs", "stream", "--report", "--results", results],
      env: { K6: await fakeK6(), LOG_LEVEL: "warn" },
    });
    const { code, output } = await run.finished();
    assert.equal(code, 0, output);
    const html = /^report: (\S+)$/m.exec(output)?.[1];
    assert.ok(html !== undefined, output);
    assert.match(html, new RegExp(`^${results}/redis_direct-[0-9T-]+Z\\.html$`));
    const summary = JSON.parse(await Deno.readTextFile(/summary: (\S+)/.exec(output)![1]));
    assert.deepEqual(summary.results[0].dashboard, {
      K6_WEB_DASHBOARD: "true",
      K6_WEB_DASHBOARD_PORT: "-1",
      K6_WEB_DASHBOARD_PERIOD: "1s",
      K6_WEB_DASHBOARD_EXPORT: html,
    });
    assert.deepEqual(summary.reports, [html]);
    await Deno.remove(results, { recursive: true });
  },
);

Deno.test(
  "rinha: the Rinha backend and both processor simulators up for the run, all stopped after",
  INTEGRATION,
  async () => {
    const results = await Deno.makeTempDir({ prefix: "fastpix-k6-results-" });
    const run = new ChildTool("loadtest/k6_command.ts", {
      args: ["rinha", "--results", results],
      env: { K6: await fakeK6(), LOG_LEVEL: "warn", MAX_RATE: "7" },
    });
    const { code, output } = await run.finished();
    assert.equal(code, 0, output);
    const summary = JSON.parse(await Deno.readTextFile(/summary: (\S+)/.exec(output)![1]));
    assert.equal(summary.scenario, "rinha");
    const [r] = summary.results;
    assert.match(r.script, /loadtest\/k6\/rinha\.ts$/);
    assert.equal(r.env.MAX_RATE, "7");
    // The payment was accepted, and both processors answered their admin summary.
    assert.ok(r.answer.payment >= 200 && r.answer.payment < 300, JSON.stringify(r.answer));
    assert.ok("default" in r.answer.summary && "fallback" in r.answer.summary);
    assert.deepEqual(r.answer.processors, { DEFAULT: 200, FALLBACK: 200 });
    await assertClosed([r.env.BASE_URL, r.env.PROCESSOR_DEFAULT_URL, r.env.PROCESSOR_FALLBACK_URL]);
    await Deno.remove(results, { recursive: true });
  },
);
