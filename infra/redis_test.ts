import assert from "node:assert/strict";
import { redactUrl } from "./mod.ts";

Deno.test("redactUrl hides every password a Redis URL can carry, parsed or not", () => {
  const cases: [string, string][] = [
    ["redis://localhost:6379", "redis://localhost:6379"],
    ["redis://:s3cr3t@h:6379", "redis://:***@h:6379"],
    ["rediss://app:s3cr3t@h:6380/2", "rediss://app:***@h:6380/2"],
    // Reserved characters, unencoded (the URL does not mean what it says) or percent-encoded.
    ["redis://:p@ss/w#rd?x@h:6379/0", "redis://:***@h:6379/0"],
    ["redis://:s3%40cr%2Fet@h:1", "redis://:***@h:1"],
    // Does not parse at all.
    ["redis://:s3 cr3t@ho st:6379", "redis://:***@ho st:6379"],
    // In the query string, as ioredis reads it.
    ["redis://h:6379/?password=s3cr3t&db=1", "redis://h:6379/?password=***&db=1"],
    ["redis://h:6379?pass=s3cr3t", "redis://h:6379?pass=***"],
    // A user name alone is no secret.
    ["redis://app@h:1", "redis://app@h:1"],
  ];
  for (const [url, expected] of cases) assert.equal(redactUrl(url), expected, url);
});
