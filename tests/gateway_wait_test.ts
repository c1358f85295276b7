/**
 * `wait=true` answers each request with the outcome of its own stream entry: two gateway processes
 * sharing one Redis and one stream consumer, two requests at once under one transaction_id (other
 * backend, other amount): no cross-talk, one is confirmed and the other gets 409 (1701); an honest
 * retry of the same payload gets 200 `duplicate`.
 */
import assert from "node:assert/strict";
import { startGatewayProcess } from "@fastpix/loadtest";
import { ErrorCode } from "@fastpix/pix";
import { freePort } from "@fastpix/testing";
import { client, INTEGRATION, type RedisServer, startRedis, waitFor } from "./_helpers.ts";
import { groupCount, postPayment, startConsumer } from "./_gateway.ts";

const TRIES = 100;
const ONE = { backend_id: "1", amount: "1.00" };
const BIG = { backend_id: "2", amount: "999999.00" };

Deno.test(
  "wait=true: concurrent requests under one transaction_id through two gateways never cross-talk",
  INTEGRATION,
  async () => {
    await using server: RedisServer = await startRedis();
    const redis = client(server.url);
    await using _consumer = startConsumer(server.url);
    await waitFor("the consumer group", async () => (await groupCount(redis)) === 1);
    const env = { WAIT_TIMEOUT_MS: "20000" };
    const a = await startGatewayProcess({ redisUrl: server.url, port: freePort(), env });
    const b = await startGatewayProcess({ redisUrl: server.url, port: freePort(), env });
    try {
      const gateways = [a.url, b.url];
      let cents = 0n;
      const wrong: string[] = [];
      for (let i = 0; i < TRIES; i++) {
        const transaction_id = `same-${i}`;
        // Each gateway serves both backends in turn, so each watches both confirmation streams.
        const sent = [ONE, BIG];
        const answers = await Promise.all(
          sent.map((p, j) =>
            postPayment(gateways[(i + j) % 2], { transaction_id, ...p }, "?wait=true")
          ),
        );
        let confirmed = 0, conflicts = 0;
        for (const [j, answer] of answers.entries()) {
          const own = sent[j];
          const body = answer.body;
          const seen = `try ${i}, ${own.backend_id}/${own.amount}: ${answer.status} ` +
            JSON.stringify(body);
          if (body.transaction_id !== transaction_id || body.backend_id !== own.backend_id) {
            wrong.push(`cross-talk, ${seen}`);
          } else if (answer.status === 200 && body.status === "confirmed") {
            if (body.processed_amount !== own.amount) wrong.push(`wrong amount, ${seen}`);
            confirmed++;
            cents += BigInt(own.amount.replace(".", ""));
          } else if (answer.status === 409 && body.code === ErrorCode.TRANSACTION_CONFLICT) {
            if (body.amount !== own.amount || body.status !== "rejected") {
              wrong.push(`wrong conflict, ${seen}`);
            }
            conflicts++;
          } else {
            wrong.push(`unexpected, ${seen}`);
          }
        }
        if (confirmed !== 1 || conflicts !== 1) {
          wrong.push(`try ${i}: ${confirmed} confirmed, ${conflicts} conflicts`);
        }
      }
      assert.deepEqual(wrong, []);
      await waitFor("every payment counted", async () => {
        return (await redis.get("processed_count")) === String(TRIES);
      });
      assert.equal(await redis.get("total_amount_cents"), String(cents));

      // An honest retry (same payload) of a counted payment: 200 duplicate, its own entry.
      const first = await postPayment(a.url, { transaction_id: "retry", ...ONE }, "?wait=true");
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.status, "confirmed");
      const again = await postPayment(b.url, { transaction_id: "retry", ...ONE }, "?wait=true");
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.status, "duplicate");
      assert.equal(again.body.backend_id, ONE.backend_id);
      assert.ok(typeof again.body.entry_id === "string" && again.body.entry_id !== "");
      assert.notEqual(again.body.entry_id, first.body.entry_id);
      assert.equal(await redis.get("processed_count"), String(TRIES + 1));
    } finally {
      await a.stop();
      await b.stop();
      redis.disconnect();
    }
  },
);
