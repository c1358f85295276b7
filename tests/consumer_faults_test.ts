/**
 * The consumer when things break, with real processes: SIGKILL mid-stream, Redis killed and
 * restarted (AOF on), graceful shutdown, and several processes sharing the group.
 */
import assert from "node:assert/strict";
import type { PaymentMessage } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import {
  client,
  confirmationsOf,
  INTEGRATION,
  pendingCount,
  sendPayments,
  spawnConsumer,
  startRedis,
  sumAmounts,
  waitFor,
} from "./_helpers.ts";
import { sleep } from "@fastpix/infra";

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

/** Every payment confirmed exactly once across its backend's stream, and the totals exact. */
async function assertEffectivelyOnce(redis: Redis, payments: PaymentMessage[]) {
  assert.equal(await count(redis), payments.length);
  const { cents, text } = sumAmounts(payments);
  assert.equal(await redis.get("total_amount"), text);
  assert.equal(await redis.get("total_amount_cents"), cents.toString());
  const confirmedTimes = new Map<string, number>();
  for (const backend of new Set(payments.map((p) => p.backend_id))) {
    for (const c of await confirmationsOf(redis, `backend_bacen_response_${backend}`)) {
      assert.equal(c.status, "confirmed", `unexpected ${c.status} for ${c.transaction_id}`);
      confirmedTimes.set(c.transaction_id, (confirmedTimes.get(c.transaction_id) ?? 0) + 1);
    }
  }
  assert.equal(confirmedTimes.size, payments.length);
  assert.ok([...confirmedTimes.values()].every((n) => n === 1), "a payment was confirmed twice");
  assert.equal(await pendingCount(redis, "pix_payments"), 0);
}

Deno.test(
  "SIGKILL mid-stream: a second consumer reclaims, every payment confirmed once",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 20_000);
    const env = { IDLE_THRESHOLD_MS: "500" };
    const a = spawnConsumer(server.url, {
      name: "victim",
      args: ["--settle-ms", "100", "--batch-size", "200"],
      env,
    });
    // Kill it while it holds a batch (it settles each one for 100 ms before applying it).
    const holding = async () =>
      (await redis.xpending("pix_payments", "pix_consumers", "-", "+", 1000, "victim") as unknown[])
        .length;
    await waitFor(
      "the first consumer to hold a batch after some progress",
      async () => (await count(redis)) >= 1000 && (await holding()) > 0,
      60_000,
    );
    a.kill("SIGKILL");
    assert.equal((await a.finished()).code, 137);
    // It died holding a batch: those entries are pending in its name.
    assert.ok(
      (await holding()) > 0,
      "the killed consumer held no entries; the test proves nothing",
    );
    assert.ok(await count(redis) < 20_000);

    const b = spawnConsumer(server.url, { name: "rescuer", env });
    await waitFor(
      "every payment to be processed",
      async () =>
        (await count(redis)) === 20_000 && (await pendingCount(redis, "pix_payments")) === 0,
      60_000,
    );
    b.kill("SIGTERM");
    const rescuer = await b.finished();
    assert.equal(rescuer.code, 0);
    assert.match(rescuer.output, /reclaimed \d+ entries/);
    await assertEffectivelyOnce(redis, payments);
    redis.disconnect();
  },
);

Deno.test(
  "Redis killed and restarted mid-run (AOF): the consumer resumes, nothing lost or doubled",
  INTEGRATION,
  async () => {
    await using server = await startRedis({ appendOnly: true });
    const redis = client(server.url);
    const payments = await sendPayments(redis, 20_000);
    const a = spawnConsumer(server.url, {
      name: "survivor",
      args: ["--settle-ms", "5", "--batch-size", "200"],
    });
    await waitFor("the consumer to make progress", async () => (await count(redis)) >= 2000);
    await server.kill();
    await sleep(1500);
    await server.restart();
    await waitFor(
      "every payment to be processed",
      async () =>
        (await count(redis)) === 20_000 && (await pendingCount(redis, "pix_payments")) === 0,
      60_000,
    );
    a.kill("SIGTERM");
    const { code, output } = await a.finished();
    assert.equal(code, 0);
    assert.match(output, /Redis unavailable at redis:\/\/127\.0\.0\.1:\d+ .*retrying with backoff/);
    assert.match(output, /Redis is back/);
    await assertEffectivelyOnce(redis, payments);
    redis.disconnect();
  },
);

Deno.test(
  "graceful shutdown finishes and acknowledges the batch in hand, exits 0",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const payments = await sendPayments(redis, 5000);
    const a = spawnConsumer(server.url, {
      name: "polite",
      args: ["--settle-ms", "300", "--batch-size", "100"],
    });
    await waitFor("the first batch", async () => (await count(redis)) >= 100);
    // It is now holding its next batch (300 ms of settlement): SIGTERM must let it finish.
    const held = await redis.xpending(
      "pix_payments",
      "pix_consumers",
      "-",
      "+",
      1000,
      "polite",
    ) as unknown[];
    a.kill("SIGTERM");
    const { code, output } = await a.finished();
    assert.equal(code, 0);
    const confirmed = Number(/confirmed (\d+)/.exec(output)![1]);
    assert.equal(await count(redis), confirmed);
    assert.ok(confirmed >= 100 + held.length && confirmed < 5000);
    assert.equal(
      await pendingCount(redis, "pix_payments"),
      0,
      "the batch in hand was not acknowledged",
    );

    const b = spawnConsumer(server.url, { name: "finisher" });
    await waitFor("the rest", async () => (await count(redis)) === 5000);
    b.kill("SIGINT");
    assert.equal((await b.finished()).code, 0);
    await assertEffectivelyOnce(redis, payments);
    redis.disconnect();
  },
);

Deno.test("two processes with two loops each share the group exactly", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  const payments = await sendPayments(redis, 20_000);
  const procs = ["p1", "p2"].map((name) =>
    spawnConsumer(server.url, { name, args: ["--concurrency", "2", "--batch-size", "100"] })
  );
  await waitFor("every payment", async () => (await count(redis)) === 20_000, 60_000);
  const members = () => redis.xinfo("CONSUMERS", "pix_payments", "pix_consumers") as Promise<[]>;
  assert.equal((await members()).length, 4);
  for (const p of procs) p.kill("SIGTERM");
  const outputs = await Promise.all(procs.map((p) => p.finished()));
  assert.ok(outputs.every((o) => o.code === 0));
  assert.equal((await members()).length, 0, "the stopped consumers are still in the group");
  await assertEffectivelyOnce(redis, payments);
  redis.disconnect();
});
