/**
 * `deno task compare-fifo-vs-stream --quick` end to end, as CI runs it: every design measured,
 * and the crash run's ledger shows the plain list losing what its killed consumer held while the
 * stream consumer, the basic consumer and the reliable list lose nothing and count nothing twice.
 */
import assert from "node:assert/strict";
import type { CompareResult } from "@fastpix/loadtest";
import { ChildTool, INTEGRATION } from "./_helpers.ts";

Deno.test(
  "compare-fifo-vs-stream --quick: JSON and HTML for every design",
  INTEGRATION,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "fastpix-compare-" });
    try {
      const json = `${dir}/compare.json`;
      const run = new ChildTool("loadtest/compare_command.ts", {
        args: ["--quick", "--json", json],
        env: { LOG_LEVEL: "warn" },
      });
      const { code, output } = await run.finished();
      assert.equal(code, 0, output);
      assert.match(output, /│ list-reliable/);
      const result: CompareResult = JSON.parse(await Deno.readTextFile(json));
      assert.deepEqual(result.results.map((r) => r.design), [
        "stream",
        "basic",
        "list",
        "list-reliable",
      ]);
      for (const r of result.results) {
        assert.deepEqual(r.throughput.map((t) => t.consumers), [1, 2], r.design);
        assert.ok(r.throughput.every((t) => t.perSecond > 0 && t.payments === 2000), r.design);
        assert.equal(r.latency.unanswered, 0, r.design);
        assert.ok(r.latency.p50 > 0 && r.latency.p50 <= r.latency.max, r.design);
        assert.ok(r.memory.bytes > 0 && r.memory.mbPer100k > 0, r.design);
        assert.equal(r.crash.sent, 600, r.design);
        assert.equal(r.crash.timedOut, false, r.design);
        assert.equal(r.crash.processedTwice, 0, r.design);
        assert.ok(r.crash.countersAgree, `${r.design}: counters agree with the ledger`);
      }
      const [stream, basic, list, reliable] = result.results.map((r) => r.crash);
      // The plain list: what the victim popped is gone, and Redis has no record of it.
      assert.equal(list.held, null);
      assert.ok(list.lost > 0 && list.lost <= 100, `list lost ${list.lost}`);
      assert.equal(list.recovered, 0);
      // The others: the victim held payments, a replacement processed every one exactly once.
      for (
        const [name, c, held] of [["stream", stream, 100], ["list-reliable", reliable, 100], [
          "basic",
          basic,
          1,
        ]] as const
      ) {
        assert.equal(c.lost, 0, name);
        assert.equal(c.held, held, name);
        assert.equal(c.recovered, held, name);
      } // deno-fmt-ignore
      const html = await Deno.readTextFile(`${dir}/compare.html`);
      assert.match(html, /<svg/);
      assert.equal((html.match(/<tr><td>/g) ?? []).length, 4);
      assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, "self-contained");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
