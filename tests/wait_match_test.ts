/**
 * What `wait=true` matches on, against a real redis-server: the stream enqueuer answers the ids of
 * the entries it added, in the order of the batch (whatever the field layouts and partitions), and
 * a waiter takes only the confirmation of its own entry, also when that confirmation comes before
 * the enqueue's answer; a confirmation without `entry_id` (list designs, older consumers) answers
 * by transaction id as before.
 */
import assert from "node:assert/strict";
import { ConfirmationWaiters } from "@fastpix/gateway";
import { layoutKeys, sleep } from "@fastpix/infra";
import { type PaymentMessage, responseStreamKey } from "@fastpix/pix";
import { streamEnqueuer } from "@fastpix/queue";
import { client, INTEGRATION, type RedisServer, startRedis } from "./_helpers.ts";

const PREFIX = "backend_bacen_response_";

Deno.test(
  "the stream enqueuer answers the entry ids in the order of the batch",
  INTEGRATION,
  async () => {
    await using server: RedisServer = await startRedis();
    const redis = client(server.url);
    try {
      const batch: PaymentMessage[] = Array.from({ length: 12 }, (_, i) => ({
        transaction_id: `tx-${i}`,
        backend_id: String(i % 3),
        amount: "1.00",
        timestamp: "2026-01-01T00:00:00Z",
        // Every third payment has another field layout: another script call.
        ...(i % 3 === 0 ? { payee_key: `key-${i}` } : {}),
      }));
      for (const partitions of [0, 4]) {
        const stream = `pay_${partitions}`;
        const ids = await streamEnqueuer(stream, { partitions }).enqueue(redis, batch);
        assert.ok(Array.isArray(ids) && ids.length === batch.length, JSON.stringify(ids));
        const streams = partitions === 0
          ? [stream]
          : layoutKeys({ stream, partitions }).map((k) => k.stream);
        const found = new Map<string, string>();
        for (const key of streams) {
          for (const [id, fields] of await redis.xrange(key, "-", "+")) {
            found.set(`${key} ${id}`, fields[fields.indexOf("transaction_id") + 1]);
          }
        }
        batch.forEach((p, i) => {
          const where = [...found].filter(([k]) => k.endsWith(` ${ids[i]}`));
          assert.ok(
            where.some(([, tx]) => tx === p.transaction_id),
            `${partitions} partitions: ${ids[i]} is not ${p.transaction_id}`,
          );
        });
      }
    } finally {
      redis.disconnect();
    }
  },
);

Deno.test(
  "a waiter takes its own entry's confirmation only, also one that came before its entry id",
  INTEGRATION,
  async () => {
    await using server: RedisServer = await startRedis();
    const redis = client(server.url);
    const waiters = new ConfirmationWaiters(server.url, PREFIX);
    const key = responseStreamKey(PREFIX, "7");
    const confirm = (tx: string, entryId: string | undefined, amount: string) =>
      redis.xadd(
        key,
        "*",
        "transaction_id",
        tx,
        "status",
        "confirmed",
        "processed_amount",
        amount,
        "backend_id",
        "7",
        "timestamp",
        "t",
        ...(entryId === undefined ? [] : ["entry_id", entryId]),
      );
    try {
      // Another entry's confirmation under the same transaction id, then this one's, both written
      // (and read by the watcher) before the enqueue answers with this entry's id.
      const early = await waiters.waitFor("tx", "7", {
        timeoutMs: 3000,
        send: async () => {
          await confirm("tx", "1-1", "5.00");
          await confirm("tx", "1-2", "6.00");
          await sleep(400);
          return "1-2";
        },
      });
      assert.equal(early?.processed_amount, "6.00");
      assert.equal(early?.entry_id, "1-2");

      // Written after the answer: the other entry's is passed over.
      const late = await waiters.waitFor("tx2", "7", {
        timeoutMs: 3000,
        send: () => {
          setTimeout(async () => {
            await confirm("tx2", "2-1", "7.00");
            await confirm("tx2", "2-2", "8.00");
          }, 100);
          return Promise.resolve("2-2");
        },
      });
      assert.equal(late?.processed_amount, "8.00");

      // No entry_id (list designs, older consumers): by transaction id, as before.
      const plain = await waiters.waitFor("tx3", "7", {
        timeoutMs: 3000,
        send: () => {
          setTimeout(() => confirm("tx3", undefined, "9.00"), 100);
          return Promise.resolve(undefined);
        },
      });
      assert.equal(plain?.processed_amount, "9.00");

      // Only another entry's: nothing for this one.
      const none = await waiters.waitFor("tx4", "7", {
        timeoutMs: 500,
        send: async () => {
          await confirm("tx4", "4-1", "1.00");
          return "4-2";
        },
      });
      assert.equal(none, undefined);
      assert.equal(waiters.size, 0);
    } finally {
      await waiters.stop();
      redis.disconnect();
    }
  },
);
