import assert from "node:assert/strict";
import { defaultMaxConnections, HTTP_DEFAULTS, httpLimits, openFileLimit } from "./server.ts";

Deno.test("the default connection cap leaves descriptors in reserve", () => {
  assert.equal(defaultMaxConnections(256), 192);
  assert.equal(defaultMaxConnections(1024), 896);
  assert.equal(defaultMaxConnections(20_000), HTTP_DEFAULTS.maxConnectionsCeiling);
  assert.equal(defaultMaxConnections(40), 16);
  assert.equal(defaultMaxConnections(undefined), HTTP_DEFAULTS.maxConnectionsCeiling);
  // Deno reads /proc/self only with --allow-all (the commands run with -A; unit tests do not).
  const limit = openFileLimit();
  assert.ok(limit === undefined || limit > 0);
  assert.equal(httpLimits({ maxBodyBytes: 10 }).maxConnections, defaultMaxConnections(limit));
});
