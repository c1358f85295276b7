/**
 * No ghost consumers, with real processes: restarts leave no dead members in the group (or in the
 * reliable list's registry); a member idle past CONSUMER_GC_MS holding nothing is removed by the
 * live ones; a member that holds entries is never removed (Redis 7.0 would drop its pending
 * entries with it), until they have been reclaimed.
 */
import assert from "node:assert/strict";
import type { DesignName } from "@fastpix/queue";
import { flatToRecord, type Redis } from "@fastpix/infra";
import { LIST_CONSUMERS_KEY } from "@fastpix/pix";
import {
  client,
  enqueueFor,
  heldBy,
  INTEGRATION,
  spawnDesign,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

/** The group's members: name → pending entries. */
async function members(redis: Redis): Promise<Map<string, number>> {
  const rows = await redis.xinfo("CONSUMERS", "pix_payments", "pix_consumers") as unknown[][];
  return new Map(rows.map(flatToRecord).map((m) => [String(m.name), Number(m.pending)]));
}

for (const design of ["stream", "basic", "list-reliable"] as const satisfies DesignName[]) {
  Deno.test(`${design}: three restarts leave no dead consumers behind`, INTEGRATION, async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    for (const [i, name] of ["first", "second", "third"].entries()) {
      const consumer = spawnDesign(design, server.url, { name });
      await enqueueFor(design, redis, 30);
      await waitFor(
        `${name} to count its payments`,
        async () => await count(redis) === 30 * (i + 1),
      );
      consumer.kill("SIGTERM");
      assert.equal((await consumer.finished()).code, 0);
    }
    assert.equal(await count(redis), 90);
    if (design === "list-reliable") assert.equal(await redis.hlen(LIST_CONSUMERS_KEY), 0);
    else assert.deepEqual([...await members(redis)], []);
    redis.disconnect();
  });
}

for (const design of ["stream", "basic"] as const) {
  Deno.test(
    `${design}: idle members holding nothing are removed; one holding entries stays until they are reclaimed`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      // A member that dies holding entries, and one that dies holding nothing.
      const slowly = ["--settle-ms", "60000", ...design === "stream" ? ["--batch-size", "2"] : []];
      const noReclaim = { IDLE_THRESHOLD_MS: "60000" };
      const holder = spawnDesign(design, server.url, { name: "holder", args: slowly });
      await enqueueFor(design, redis, 5);
      await waitFor(
        "the holder to hold an entry",
        async () => await heldBy(design, redis, "holder") > 0,
      );
      holder.kill("SIGKILL");
      await holder.finished();
      const held = await heldBy(design, redis, "holder");
      const empty = spawnDesign(design, server.url, { name: "empty", env: noReclaim });
      await waitFor("the rest to be counted", async () => await count(redis) === 5 - held);
      empty.kill("SIGKILL");
      await empty.finished();
      assert.deepEqual([...await members(redis)].sort(), [["empty", 0], ["holder", held]]);

      // A live consumer that forgets after 300 ms idle, but reclaims only after a minute.
      const env = { ...noReclaim, CONSUMER_GC_MS: "300" };
      let live = spawnDesign(design, server.url, { name: "live", env });
      await waitFor(
        "the empty ghost to be removed",
        async () => !(await members(redis)).has("empty"),
      );
      await new Promise((r) => setTimeout(r, 1500)); // several more rounds of clean-up
      assert.equal(
        (await members(redis)).get("holder"),
        held,
        "the holder or its entries were lost",
      );
      assert.equal(await heldBy(design, redis, "holder"), held);
      live.kill("SIGTERM");
      const { code, output } = await live.finished();
      assert.equal(code, 0, output);
      assert.match(
        output,
        /removed 1 consumer idle for over 300 ms with nothing pending .*: empty/,
      );

      // Reclaiming after 500 ms: the entries move to the live one, then the holder goes too.
      live = spawnDesign(design, server.url, {
        name: "live",
        env: { ...env, IDLE_THRESHOLD_MS: "500" },
      });
      await waitFor("everything to be counted", async () => await count(redis) === 5);
      await waitFor("the holder to be removed", async () => !(await members(redis)).has("holder"));
      live.kill("SIGTERM");
      assert.equal((await live.finished()).code, 0);
      assert.deepEqual([...await members(redis)], []);
      redis.disconnect();
    },
  );
}

Deno.test(
  "a consumer not permitted to clean up says so once and keeps consuming",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const rules = ["~*", "&*", "+@all", "-xinfo|consumers", "-xgroup|delconsumer"];
    await redis.call("ACL", "SETUSER", "app", "on", ">app-pw", ...rules);
    const url = `redis://app:app-pw@127.0.0.1:${server.port}`;
    const consumer = spawnDesign("stream", url, { name: "modest", env: { CONSUMER_GC_MS: "200" } });
    await enqueueFor("stream", redis, 30);
    await waitFor("the payments to be counted", async () => await count(redis) === 30);
    await new Promise((r) => setTimeout(r, 600)); // several clean-up rounds
    await enqueueFor("stream", redis, 30);
    await waitFor("the next payments to be counted", async () => await count(redis) === 60);
    consumer.kill("SIGTERM");
    const { code, output } = await consumer.finished();
    assert.equal(code, 0, output);
    assert.equal(output.match(/cannot remove idle consumers/g)?.length, 1, output);
    assert.match(output, /grant \+xinfo\|consumers and \+xgroup\|delconsumer/);
    redis.disconnect();
  },
);
