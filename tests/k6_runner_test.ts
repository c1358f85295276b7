/**
 * `deno task k6`: without k6 it says where to get it in one line and exits non-zero; with a
 * stand-in k6 it starts Redis, the consumer and the gateway, hands k6 their addresses, merges the
 * summaries and stops everything.
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
