/**
 * `deno task bench --memory` on a small load: it runs, prints its table, and writes JSON whose
 * bytes per payment are sane (the stream and confirmations near their entry sizes, a mark a couple
 * of hundred bytes, the parts adding up to the total).
 */
import assert from "node:assert/strict";
import type { MemoryBenchResult } from "@fastpix/loadtest";
import { ChildTool, INTEGRATION } from "./_helpers.ts";

Deno.test("bench --memory measures bytes per payment part by part", INTEGRATION, async () => {
  const dir = await Deno.makeTempDir({ prefix: "fastpix-memory-" });
  try {
    const json = `${dir}/memory.json`;
    const run = new ChildTool("loadtest/bench_command.ts", {
      args: ["--memory", "--payments", "3000", "--ledger", "--json", json],
      env: { LOG_LEVEL: "warn" },
    });
    const { code, output } = await run.finished();
    assert.equal(code, 0, output);
    for (const part of ["payment stream", "confirmations", "idempotency marks", "ledger outbox"]) {
      assert.match(output, new RegExp(`│ ${part} +│`), part);
    }
    assert.match(output, /a mark holds "[A-Za-z0-9_-]{8}:\d+-\d+" \(fingerprint:stream id\)/);
    assert.match(output, /live marks x \d+ B = [\d.]+ GiB/);
    const result = JSON.parse(await Deno.readTextFile(json)) as MemoryBenchResult;
    const per = Object.fromEntries(result.parts.map((p) => [p.part, p.perPayment]));
    const within = (name: string, low: number, high: number) =>
      assert.ok(per[name] >= low && per[name] <= high, `${name}: ${per[name]} B per payment`);
    within("payment stream", 50, 200);
    within("confirmations", 60, 250);
    within("idempotency marks", 120, 400);
    within("ledger outbox", 50, 600);
    // The parts are most of what the payments took; what is left is small (script cache, ...).
    const other = result.parts.find((p) => p.part.startsWith("other"))!;
    assert.ok(
      Math.abs(other.perPayment) < 0.25 * result.totalPerPayment,
      `other ${other.perPayment}`,
    );
    const sum = result.parts.reduce((s, p) => s + p.bytes, 0) / 3000;
    assert.ok(Math.abs(result.totalPerPayment - sum) < 0.2);
    assert.equal(result.parts.find((p) => p.part === "idempotency marks")!.keys, 3000);
    assert.ok(result.marks.perMark >= 100 && result.marks.perMark <= 400);
    assert.ok(result.marks.idOnlyPerMark >= 100 && result.marks.idOnlyPerMark <= 400);
    for (const p of result.parts.filter((p) => p.keys > 0)) {
      assert.ok(p.memoryUsagePerPayment > 0, `${p.part}: MEMORY USAGE`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
