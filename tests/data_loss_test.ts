/**
 * Redis restarted empty (no persistence) under a running consumer, every design: the consumer
 * says once, in one line, what was lost (group, counters, idempotency marks, queued payments) and
 * what it means, and carries on: counts restart from zero.
 */
import assert from "node:assert/strict";
import { DESIGN_NAMES, DESIGNS } from "@fastpix/queue";
import type { Redis } from "@fastpix/infra";
import { client, enqueueFor, INTEGRATION, spawnDesign, startRedis, waitFor } from "./_helpers.ts";

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

for (const design of DESIGN_NAMES) {
  Deno.test(
    `${design}: Redis restarted empty under the consumer: one line says what was lost`,
    INTEGRATION,
    async () => {
      await using server = await startRedis(); // no AOF, no RDB: a restart loses everything
      const redis = client(server.url);
      const consumer = spawnDesign(design, server.url, { name: "witness" });
      await enqueueFor(design, redis, 20);
      await waitFor("the payments to be counted", async () => await count(redis) === 20);
      await new Promise((r) => setTimeout(r, 1200)); // the consumer has seen the counters

      await server.kill();
      await server.restart();
      // It carries on: new payments are counted from zero.
      await waitFor("the consumer to come back", async () => {
        await enqueueFor(design, redis, 10);
        await new Promise((r) => setTimeout(r, 300));
        return await count(redis) > 0;
      });
      await new Promise((r) => setTimeout(r, 2500)); // time for more than one line, if it would
      consumer.kill("SIGTERM");
      const { code, output } = await consumer.finished();
      assert.equal(code, 0, output);
      const lines = output.split("\n").filter((l) => /Redis lost its data/.test(l));
      assert.equal(lines.length, 1, output);
      const line = lines[0];
      if (DESIGNS[design].usesStream) assert.match(line, /the consumer group pix_consumers/);
      assert.match(line, /the counters, the idempotency marks and the queued payments are gone/);
      assert.match(line, /counts restart from zero/);
      assert.match(line, /a payment from before the loss that is sent again is counted again/);
      if (design === "stream") assert.match(line, /unless the PostgreSQL ledger is on/);
      assert.ok(await count(redis) < 20 + 10, "the counters did not restart");
      redis.disconnect();
    },
  );
}
