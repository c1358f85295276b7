/**
 * Shutdown in bounded time, every design, with real processes and a Redis that stops answering
 * (its process SIGSTOPped): SIGTERM to a consumer with nothing in hand ends it within 2 s; with a
 * batch in hand, within SHUTDOWN_TIMEOUT_MS, saying what became of the batch. Once Redis answers
 * again, nothing was lost (the plain list: exactly what it said it dropped) or counted twice.
 */
import assert from "node:assert/strict";
import { DESIGN_NAMES } from "@fastpix/queue";
import type { Redis } from "@fastpix/infra";
import {
  client,
  enqueueFor,
  heldBy,
  INTEGRATION,
  spawnDesign,
  startRedis,
  sumAmounts,
  waitFor,
} from "./_helpers.ts";
import type { ChildTool, RedisServer } from "./_helpers.ts";

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

/**
 * SIGTERM to `consumer` while Redis is stopped; resolves to the exit, its time and output (a
 * consumer still running after 15 s is SIGKILLed).
 */
async function stopWhileRedisStopped(server: RedisServer, consumer: ChildTool) {
  Deno.kill(server.pid, "SIGSTOP");
  try {
    await new Promise((r) => setTimeout(r, 300)); // whatever it was doing, it now waits on Redis
    const started = performance.now();
    consumer.kill("SIGTERM");
    const killer = setTimeout(() => consumer.kill("SIGKILL"), 15_000);
    const { code, output } = await consumer.finished();
    clearTimeout(killer);
    return { code, output, ms: Math.round(performance.now() - started) };
  } finally {
    Deno.kill(server.pid, "SIGCONT");
  }
}

for (const design of DESIGN_NAMES) {
  Deno.test(
    `${design}: SIGTERM with nothing in hand, Redis stopped: exits within 2 s`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const payments = await enqueueFor(design, redis, 100);
      const consumer = spawnDesign(design, server.url, { name: "idle" });
      await waitFor("the payments to be counted", async () => await count(redis) === 100);
      const { code, output, ms } = await stopWhileRedisStopped(server, consumer);
      console.log(`${design}, nothing in hand, Redis stopped: exited in ${ms} ms`);
      assert.equal(code, 0, output);
      assert.ok(ms < 2000, `took ${ms} ms:\n${output}`);
      assert.match(output, /shutdown: nothing in hand/);
      assert.equal(await count(redis), payments.length);
      redis.disconnect();
    },
  );

  Deno.test(
    `${design}: SIGTERM with a batch in hand, Redis stopped: exits within SHUTDOWN_TIMEOUT_MS`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      const env = { IDLE_THRESHOLD_MS: "500", SHUTDOWN_TIMEOUT_MS: "2000" };
      const payments = await enqueueFor(design, redis, 100);
      const consumer = spawnDesign(design, server.url, {
        name: "busy",
        args: ["--settle-ms", "1000", ...design === "basic" ? [] : ["--batch-size", "20"]],
        env,
      });
      // In hand: pending in its name, in its processing list, or (plain list) popped.
      await waitFor(
        "the consumer to take a batch",
        async () =>
          design === "list"
            ? await redis.llen("source_list_0") < 100
            : await heldBy(design, redis, "busy") > 0,
      );
      const { code, output, ms } = await stopWhileRedisStopped(server, consumer);
      console.log(`${design}, a batch in hand, Redis stopped: exited in ${ms} ms`);
      assert.equal(code, 0, output);
      assert.ok(ms < 2000 + 700, `took ${ms} ms:\n${output}`);
      const line = /shutdown: Redis did not let the batch in hand finish within 2000 ms: (.*)/
        .exec(output)?.[1];
      assert.ok(line, output);
      const left = Number(/ the (\d+) payments? in hand/.exec(line)?.[1]);
      assert.ok(left > 0, line);

      // Redis answers again: another consumer finishes the rest; nothing lost or counted twice,
      // but for what the plain list said it gave up (lost unless Redis applied its batch).
      const rescuer = spawnDesign(design, server.url, { name: "rescuer", env });
      if (design === "list") {
        assert.match(line, /gave up the \d+ payments? in hand, popped by BRPOP/);
        await waitFor("the list to drain", async () => await redis.llen("source_list_0") === 0);
        await new Promise((r) => setTimeout(r, 500));
        const counted = await count(redis);
        assert.ok(counted === payments.length || counted === payments.length - left, line);
      } else {
        assert.match(line, /left the \d+ payments? in hand pending/);
        await waitFor("every payment", async () => await count(redis) >= payments.length);
        assert.equal(await count(redis), payments.length);
        assert.equal(await redis.get("total_amount_cents"), sumAmounts(payments).cents.toString());
      }
      rescuer.kill("SIGTERM");
      assert.equal((await rescuer.finished()).code, 0);
      redis.disconnect();
    },
  );
}
