import assert from "node:assert/strict";
import { uuidv7 } from "./ids.ts";

Deno.test("uuidv7 is well formed, unique and carries its time", () => {
  const seen = new Set<string>();
  const now = Date.UTC(2026, 10, 21);
  for (let i = 0; i < 50_000; i++) seen.add(uuidv7(now));
  assert.equal(seen.size, 50_000);
  const id = uuidv7(now);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(id.replace(/-/g, "").slice(0, 12), 16), now);
});
