/**
 * The counters, exact at any size and all or nothing, against real redis-server processes, for the
 * stream consumer, the list designs and the basic consumer:
 * - a counter that is no 64-bit integer (`99999999999999999999`), or has no room left for what a
 *   batch adds, refuses the whole batch: nothing at all is written;
 * - a total above 2^53 cents is still exact (`total_amount` formatted from the integer's text);
 * - the Python original's float `total_amount` (no `total_amount_cents`) is converted once to
 *   exact cents, not reset;
 * - the decimal arithmetic behind it (`consumer/lua/includes/decimal.lua`), case by case.
 */
import assert from "node:assert/strict";
import { applyListBatch, buildListBatch, toListPayload } from "@fastpix/fifo_list_demo";
import { applyBatch, BasicStreamConsumer, StreamConsumer } from "@fastpix/consumer";
import { type PaymentMessage } from "@fastpix/pix";
import { assembleLua, type Redis } from "@fastpix/infra";
import { makePayment } from "@fastpix/simulators";
import {
  addRaw,
  basicOptions,
  client,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  listBatchContext,
  pendingCount,
  pendingStreamBatch,
  recordingLogger,
  startRedis,
} from "./_helpers.ts";

/** Every key, with its type and content. */
async function everything(redis: Redis): Promise<Record<string, unknown>> {
  const dump: Record<string, unknown> = {};
  for (const key of (await redis.keys("*")).sort()) {
    const type = await redis.type(key);
    dump[key] = type === "string"
      ? await redis.get(key)
      : type === "list"
      ? await redis.lrange(key, 0, -1)
      : type === "stream"
      ? [
        await redis.xrange(key, "-", "+"),
        await redis.xpending(key, "pix_consumers").catch(() => null),
      ]
      : type;
  }
  return dump;
}

const one = (cents: number) => makePayment({ backendId: "1", amountCents: cents });

const LIST_CTX = listBatchContext("reliable");

/** Applies `payments` as one batch of `design`; rejects when the batch is refused. */
type Apply = (redis: Redis, url: string, payments: PaymentMessage[]) => Promise<unknown>;

const DESIGNS: Record<string, Apply> = {
  stream: async (redis, url, payments) =>
    await applyBatch(redis, await pendingStreamBatch(redis, url, payments)),
  "list-reliable": async (redis, _url, payments) => {
    const payloads = payments.map(toListPayload);
    await redis.lpush(LIST_CTX.processingKey!, ...payloads);
    return await applyListBatch(redis, buildListBatch(payloads, LIST_CTX));
  },
  "list (plain)": async (redis, _url, payments) =>
    await applyListBatch(
      redis,
      buildListBatch(payments.map(toListPayload), { ...LIST_CTX, mode: "plain" }),
    ),
};

for (const [design, apply] of Object.entries(DESIGNS)) {
  for (
    const [what, key, value, error] of [
      [
        "a total_amount_cents past 64 bits",
        "total_amount_cents",
        "99999999999999999999",
        /WRONGTYPE total_amount_cents must be an integer/,
      ],
      [
        "a total_amount_cents with no room left",
        "total_amount_cents",
        "9223372036854775000",
        /ERR total_amount_cents is 9223372036854775000: no room for 1001 more below 2\^63; nothing was applied/,
      ],
      [
        "a processed_count with no room left",
        "processed_count",
        "9223372036854775806",
        /ERR processed_count is 9223372036854775806: no room for 2 more/,
      ],
      [
        "a processed_count with a leading zero",
        "processed_count",
        "07",
        /WRONGTYPE processed_count must be an integer/,
      ],
      [
        "a float total_amount that is no number",
        "total_amount",
        "twelve",
        /WRONGTYPE total_amount must be a decimal number/,
      ],
    ] as const
  ) {
    Deno.test(
      `${design}: ${what} refuses the whole batch, nothing written`,
      INTEGRATION,
      async () => {
        await using server = await startRedis();
        const redis = client(server.url);
        await redis.set(key, value);
        if (design === "stream") {
          // The entries are read (pending) before the snapshot: the refusal must leave them so.
          const batch = await pendingStreamBatch(redis, server.url, [one(1000), one(1)]);
          const before = await everything(redis);
          await assert.rejects(applyBatch(redis, batch), error);
          assert.deepEqual(await everything(redis), before);
        } else {
          if (design === "list-reliable") {
            await redis.lpush(LIST_CTX.processingKey!, ...[one(1000), one(1)].map(toListPayload));
          }
          const payloads = design === "list-reliable"
            ? (await redis.lrange(LIST_CTX.processingKey!, 0, -1)).reverse()
            : [one(1000), one(1)].map(toListPayload);
          const before = await everything(redis);
          const ctx = {
            ...LIST_CTX,
            mode: design === "list-reliable" ? "reliable" : "plain",
          } as const;
          await assert.rejects(applyListBatch(redis, buildListBatch(payloads, ctx)), error);
          assert.deepEqual(await everything(redis), before);
        }
        redis.disconnect();
      },
    );
  }

  Deno.test(`${design}: a total above 2^53 cents stays exact`, INTEGRATION, async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.set("total_amount_cents", "9007199254740993"); // 2^53 + 1
    await redis.set("total_amount", "90071992547409.93");
    // 2^53 + 101: odd, so no double holds it (Lua's number would print ...092 or ...094).
    await apply(redis, server.url, [one(60), one(40)]);
    assert.equal(await redis.get("total_amount_cents"), "9007199254741093");
    assert.equal(await redis.get("total_amount"), "90071992547410.93");
    // Up to the last cent of 64 bits.
    await redis.flushall();
    await redis.set("total_amount_cents", "9223372036854774806");
    await apply(redis, server.url, [one(1000), one(1)]);
    assert.equal(await redis.get("total_amount_cents"), "9223372036854775807");
    assert.equal(await redis.get("total_amount"), "92233720368547758.07");
    redis.disconnect();
  });

  Deno.test(
    `${design}: the original's float total_amount is converted to exact cents once, not reset`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const redis = client(server.url);
      await redis.set("total_amount", "12345.6");
      await redis.set("processed_count", "7");
      const reply = await apply(redis, server.url, [one(100)]);
      // 12345.60 + 1.00 (the brief's 1234661 / 12346.61 would be 12345.6 + 1.01).
      assert.equal(await redis.get("total_amount_cents"), "1234660");
      assert.equal(await redis.get("total_amount"), "12346.60");
      assert.equal(await redis.get("processed_count"), "8");
      const migration = Array.isArray(reply)
        ? reply[5]
        : (reply as { migration: string }).migration;
      assert.equal(
        migration,
        "converted the original's float total_amount 12345.6 to total_amount_cents 1234560 " +
          "(total_amount 12345.60)",
      );
      // Once: the next batch finds the cents and adds to them.
      await redis.flushall();
      await redis.set("total_amount", "0.30000000000000004");
      await apply(redis, server.url, [one(5)]);
      assert.equal(await redis.get("total_amount_cents"), "35");
      assert.equal(await redis.get("total_amount"), "0.35");
      redis.disconnect();
    },
  );
}

Deno.test(
  "stream consumer and basic consumer log the float migration with both values",
  INTEGRATION,
  async () => {
    for (const design of ["stream", "basic"]) {
      await using server = await startRedis();
      const redis = client(server.url);
      await redis.set("total_amount", "12345.6");
      await redis.set("processed_count", "7");
      await addRaw(redis, { ...one(100) });
      const log = recordingLogger();
      const consumer: { run(): Promise<unknown>; stop(): void } = design === "stream"
        ? new StreamConsumer(consumerOptions(server.url, { logger: log }))
        : new BasicStreamConsumer(basicOptions(server.url, { logger: log }));
      await consumeUntil(
        consumer,
        async () =>
          await redis.get("processed_count") === "8" &&
          await pendingCount(redis, "pix_payments") === 0,
      );
      assert.equal(await redis.get("total_amount_cents"), "1234660", design);
      assert.equal(await redis.get("total_amount"), "12346.60", design);
      const lines = log.lines.filter((l) => l.includes("converted"));
      assert.deepEqual(lines, [
        "warn: converted the original's float total_amount 12345.6 to total_amount_cents 1234560 " +
        "(total_amount 12345.60)",
      ], design);
      redis.disconnect();
    }
  },
);

Deno.test(
  "basic: a total_amount_cents past 64 bits refuses the count; nothing is written, the entry stays pending",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await redis.set("total_amount_cents", "99999999999999999999");
    await addRaw(redis, { ...one(100) });
    const log = recordingLogger();
    await consumeUntil(
      new BasicStreamConsumer(basicOptions(server.url, { logger: log })),
      () => Promise.resolve(log.lines.some((l) => l.includes("batch refused"))),
    );
    assert.deepEqual((await redis.keys("*")).sort(), ["pix_payments", "total_amount_cents"]);
    assert.equal(await redis.get("total_amount_cents"), "99999999999999999999");
    assert.equal(await pendingCount(redis, "pix_payments"), 1);
    redis.disconnect();
  },
);

Deno.test(
  "decimal.lua: integers as Redis reads them, sums, cents and the original's floats",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const { source } = assembleLua(
      new URL("../consumer/lua/includes/decimal.lua", import.meta.url),
    );
    const run = async (expression: string) =>
      await redis.eval(`${source}\nreturn ${expression}`, 0) as unknown;
    const ints: [string, number][] = [
      ["0", 1],
      ["-1", 1],
      ["9223372036854775807", 1],
      ["9223372036854775808", 0],
      ["-9223372036854775808", 1],
      ["-9223372036854775809", 0],
      ["99999999999999999999", 0],
      ["01", 0],
      ["-0", 0],
      ["+1", 0],
      [" 1", 0],
      ["1.0", 0],
      ["", 0],
    ];
    for (const [text, ok] of ints) {
      assert.equal(await run(`is_int64('${text}') and 1 or 0`), ok, text);
    }
    const floats: [string, string | null][] = [
      ["12345.6", "1234560"],
      ["0.30000000000000004", "30"],
      ["0.125", "13"],
      ["0.005", "1"],
      ["0.0049", "0"],
      ["-0.005", "-1"],
      ["-0.004", "0"],
      ["1e+16", "1000000000000000000"],
      ["1.5E-2", "2"],
      ["7", "700"],
      [".5", "50"],
      ["5.", "500"],
      ["92233720368547758.07", "9223372036854775807"],
      ["92233720368547758.08", null],
      ["1e+300", null],
      ["nan", null],
      ["inf", null],
      ["", null],
      [".", null],
      ["1.2.3", null],
      ["12+5", null],
    ];
    for (const [text, cents] of floats) {
      assert.equal(await run(`float_to_cents('${text}')`), cents, text);
    }
    for (
      const [cents, text] of [
        ["0", "0.00"],
        ["5", "0.05"],
        ["-5", "-0.05"],
        ["100", "1.00"],
        ["-123456", "-1234.56"],
        ["9223372036854775807", "92233720368547758.07"],
      ]
    ) assert.equal(await run(`cents_text('${cents}')`), text, cents);
    assert.equal(await run(`dec_add('999', '1')`), "1000");
    assert.equal(await run(`dec_add('0', '0')`), "0");
    assert.equal(await run(`has_room('9223372036854775806', '1') and 1 or 0`), 1);
    assert.equal(await run(`has_room('9223372036854775806', '2') and 1 or 0`), 0);
    assert.equal(
      await run(`has_room('-9223372036854775808', '9223372036854775807') and 1 or 0`),
      1,
    );
    // A sum past 2^53 stays exact (each step a double would round).
    assert.equal(
      await run(
        `(function() local s = new_sum() for _ = 1, 1000 do sum_add(s, '9007199254740') end ` +
          `sum_add(s, '99999999999999999') return sum_value(s) end)()`,
      ),
      "109007199254739999",
    );
    redis.disconnect();
  },
);
