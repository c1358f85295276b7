/**
 * A Redis that may evict keys (maxmemory-policy other than noeviction) could evict idempotency
 * marks and count a payment twice: every consumer refuses it with one line naming the setting,
 * unless ALLOW_EVICTION (then it warns once and works). Real processes, private redis-servers.
 */
import assert from "node:assert/strict";
import { DESIGN_NAMES } from "@fastpix/queue";
import { createRedis, type Redis } from "@fastpix/infra";
import {
  client,
  enqueueFor,
  exitWithin,
  INTEGRATION,
  spawnDesign,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

for (const design of DESIGN_NAMES) {
  Deno.test(
    `${design}: an evicting Redis is refused, or used with one warning under ALLOW_EVICTION`,
    INTEGRATION,
    async () => {
      await using server = await startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] });
      const redis = client(server.url);
      await enqueueFor(design, redis, 20);

      const refused = await exitWithin(spawnDesign(design, server.url, { name: "careful" }));
      assert.equal(refused.code, 2, refused.output);
      assert.equal(refused.lines.length, 1, refused.output);
      assert.match(
        refused.lines[0],
        /maxmemory-policy allkeys-lru.*set maxmemory-policy noeviction/,
      );
      assert.equal(await count(redis), 0);

      const bold = spawnDesign(design, server.url, {
        name: "bold",
        env: { ALLOW_EVICTION: "true" },
      });
      await waitFor("the payments to be counted", async () => await count(redis) === 20);
      bold.kill("SIGTERM");
      const { code, output } = await bold.finished();
      assert.equal(code, 0, output);
      assert.equal(output.match(/maxmemory-policy allkeys-lru/g)?.length, 1, output);
      assert.match(output, /warn: .*maxmemory-policy allkeys-lru.*running anyway/);
      redis.disconnect();
    },
  );
}

Deno.test(
  "where CONFIG or INFO is not permitted, the policy comes from the other: still refused",
  INTEGRATION,
  async () => {
    await using server = await startRedis({ args: ["--maxmemory-policy", "volatile-lru"] });
    const admin = client(server.url);
    for (const [user, denied] of [["noconfig", "config"], ["noinfo", "info"]] as const) {
      await admin.call("ACL", "SETUSER", user, "on", ">app-pw", "~*", "&*", "+@all", `-${denied}`);
      const url = `redis://${user}:app-pw@127.0.0.1:${server.port}`;
      const probe = createRedis(url, { name: "probe" });
      await assert.rejects(
        denied === "config" ? probe.config("GET", "maxmemory-policy") : probe.info("memory"),
        /NOPERM/,
      );
      probe.disconnect();
      const refused = await exitWithin(spawnDesign("stream", url, { name: "careful" }));
      assert.equal(refused.code, 2, refused.output);
      assert.match(refused.output, /^consume: Redis at .* has maxmemory-policy volatile-lru/m);
    }
    admin.disconnect();
  },
);
