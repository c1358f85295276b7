import assert from "node:assert/strict";
import { processBatchScript } from "@fastpix/consumer";
import { applyListBatchScript } from "./list_batch.ts";

const BATCH_SCRIPTS = [processBatchScript, applyListBatchScript];

Deno.test("the stream and list batch scripts share the same include files, joined in", () => {
  const [stream, list] = BATCH_SCRIPTS;
  const names = (includes: readonly string[]) =>
    includes.map((href) => href.slice(href.lastIndexOf("/lua/includes/") + 1));
  assert.deepEqual(names(stream.includes), [
    "lua/includes/decimal.lua",
    "lua/includes/batch.lua",
    "lua/includes/checks.lua",
    "lua/includes/reject.lua",
    "lua/includes/confirm.lua",
    "lua/includes/count.lua",
  ]);
  // The very same files, not copies: one place for the confirm / duplicate / reject / count steps
  // (and the exact decimal arithmetic of the counters).
  assert.deepEqual(list.includes, stream.includes);
  for (const href of stream.includes) {
    // Its own directives are gone (their files are joined in once, where first asked for).
    const text = Deno.readTextFileSync(new URL(href)).replace(/^--@include .*\n/gm, "");
    for (const script of BATCH_SCRIPTS) assert.ok(script.source.includes(text.trimEnd()), href);
  }
});

Deno.test("the batch scripts start with #!lua and keep no include directive once assembled", () => {
  for (const script of BATCH_SCRIPTS) {
    assert.equal(script.source.split("\n")[0], "#!lua", script.name);
    assert.doesNotMatch(script.source, /@include/, script.name);
    // Each still says what its KEYS and ARGV are.
    assert.match(script.source, /KEYS\[1\] {2}\S/, script.name);
    assert.match(script.source, /ARGV\[1\] {2}\S/, script.name);
  }
});
