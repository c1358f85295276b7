/**
 * Lease renewal, with real processes: a consumer whose batches take three times IDLE_THRESHOLD_MS
 * keeps them (the consumer beside it reclaims nothing from it), and once it is SIGKILLed while
 * holding a batch, that batch is still reclaimed and every payment counted once.
 */
import assert from "node:assert/strict";
import type { DesignName } from "@fastpix/queue";
import type { Redis } from "@fastpix/infra";
import {
  client,
  enqueueFor,
  finalStats,
  heldBy,
  INTEGRATION,
  spawnDesign,
  startRedis,
  sumAmounts,
  waitFor,
} from "./_helpers.ts";

const IDLE_MS = 500;
const SLOW_SETTLE_MS = 3 * IDLE_MS;

/** What the rescuing consumer's final line calls the payloads it took from others. */
const TAKEN: Record<string, string> = {
  stream: "reclaimed",
  basic: "claimed",
  "list-reliable": "recovered",
};

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

for (const design of ["stream", "basic", "list-reliable"] as const satisfies DesignName[]) {
  Deno.test(
    `${design}: a slow live consumer keeps its batch; a SIGKILLed one's is reclaimed`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const env = { IDLE_THRESHOLD_MS: String(IDLE_MS) };
      const batch = design === "basic" ? [] : ["--batch-size", "20"];
      const slow = spawnDesign(design, server.url, {
        name: "slow",
        args: [...batch, "--settle-ms", String(SLOW_SETTLE_MS)],
        env,
      });
      // The slow one takes the first batch alone, then the fast one joins.
      const payments = await enqueueFor(design, redis, 400);
      await waitFor(
        "the slow consumer to hold a batch",
        async () => await heldBy(design, redis, "slow") > 0,
      );
      const fast = spawnDesign(design, server.url, { name: "fast", args: batch, env });
      await waitFor(
        "every payment but the slow consumer's to be counted, then its batch too",
        async () => await count(redis) >= payments.length,
        60_000,
      );

      // Now kill the slow one while it holds a batch: that batch must be reclaimed.
      let held = 0;
      await waitFor("the slow consumer to hold a batch again", async () => {
        payments.push(...await enqueueFor(design, redis, 40));
        await new Promise((r) => setTimeout(r, 50));
        held = await heldBy(design, redis, "slow");
        return held > 0;
      }, 30_000);
      slow.kill("SIGKILL");
      assert.equal((await slow.finished()).code, 137);
      held = await heldBy(design, redis, "slow"); // it may have finished one more meanwhile
      assert.ok(held > 0, "the slow consumer died holding nothing: the test proves nothing");
      await waitFor(
        "the killed consumer's batch to be reclaimed and counted",
        async () =>
          await count(redis) >= payments.length && await heldBy(design, redis, "slow") === 0,
        60_000,
      );
      fast.kill("SIGTERM");
      const { code, output } = await fast.finished();
      assert.equal(code, 0, output);
      const stats = finalStats(output);
      assert.equal(
        stats[TAKEN[design]],
        held,
        `the fast consumer took ${
          stats[TAKEN[design]]
        } payloads, the dead one held ${held}:\n${output}`,
      );
      assert.equal(stats.skipped ?? 0, 0, "the fast consumer found work already done");
      assert.equal(await count(redis), payments.length, "a payment was counted twice");
      assert.equal(await redis.get("total_amount_cents"), sumAmounts(payments).cents.toString());
      redis.disconnect();
    },
  );
}
