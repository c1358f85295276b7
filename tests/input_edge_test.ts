/**
 * Input edge cases against real redis-server processes: a field repeated in one stream entry,
 * amounts with leading zeros, timestamps before the window and zone offsets beyond ±14:00 are
 * dead-lettered with their codes while valid entries of the same batch are confirmed and counted
 * exactly; the timestamp window follows `--timestamp-min` / `TIMESTAMP_MIN` and
 * `--timestamp-max-skew-ms` / `TIMESTAMP_MAX_SKEW_MS` in every consumer command and the gateway.
 */
import assert from "node:assert/strict";
import {
  BasicStreamConsumer,
  retryHooks,
  type StepPayment,
  StreamConsumer,
} from "@fastpix/consumer";
import { dlqKey, ErrorCode, fieldsToRecord } from "@fastpix/pix";
import { type Redis } from "@fastpix/infra";
import { startGatewayProcess } from "@fastpix/loadtest";
import { freePort } from "@fastpix/testing";
import {
  ChildTool,
  client,
  confirmationsOf,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  pendingCount,
  spawnConsumer,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const DAY_MS = 24 * 3600 * 1000;

/** A payment entry's flat fields, `extra` appended as is (it may repeat a name). */
function entry(tx: string, backend: string, amount: string, timestamp: string, ...extra: string[]) {
  return [
    "transaction_id",
    tx,
    "backend_id",
    backend,
    "amount",
    amount,
    "timestamp",
    timestamp,
    ...extra,
  ];
}

/** An instant written in zone `+14:00` (local time 14 hours ahead of UTC). */
function atPlus14(ms: number): string {
  return new Date(ms + 14 * 3600 * 1000).toISOString().slice(0, 19) + "+14:00";
}

/** Four bad entries (with their codes and reasons) between five valid edge-case ones. */
function mixedBatch() {
  const now = Date.now();
  const iso = new Date(now).toISOString();
  const bad: Array<
    { tx: string; backend: string; fields: string[]; code: number; reason: RegExp }
  > = [
    {
      tx: "t-repeat",
      backend: "1",
      fields: entry("t-repeat", "1", "1.00", iso, "amount", "999999.00"),
      code: ErrorCode.FIELD_REPEATED,
      reason: /^Field "amount" appears 2 times \("1.00", "999999.00"\)/,
    },
    {
      tx: "t-zeros",
      backend: "2",
      fields: entry("t-zeros", "2", "00.01", iso),
      code: ErrorCode.AMOUNT_LEADING_ZEROS,
      reason: /^Amount "00.01" has leading zeros/,
    },
    {
      tx: "t-1970",
      backend: "1",
      fields: entry("t-1970", "1", "5.00", "1970-01-01T00:00:00Z"),
      code: ErrorCode.TIMESTAMP_TOO_OLD,
      reason: /is before 2000-01-01T00:00:00.000Z/,
    },
    {
      tx: "t-offset",
      backend: "2",
      fields: entry("t-offset", "2", "7.50", iso.slice(0, 19) + "+99:99"),
      code: ErrorCode.TIMESTAMP_OFFSET_INVALID,
      reason: /zone offset must be from -14:00 to \+14:00/,
    },
  ];
  const good: Array<{ tx: string; backend: string; fields: string[]; processed: string }> = [
    { tx: "ok-cent", backend: "1", fields: entry("ok-cent", "1", "0.01", iso), processed: "0.01" },
    { tx: "ok-int", backend: "2", fields: entry("ok-int", "2", "12", iso), processed: "12.00" },
    {
      tx: "ok-python",
      backend: "1",
      // datetime.now().isoformat(): microseconds, no zone.
      fields: entry("ok-python", "1", "5.0", iso.replace("Z", "456")),
      processed: "5.00",
    },
    {
      tx: "ok-2000",
      backend: "2",
      fields: entry("ok-2000", "2", "19.90", "2000-01-01T00:00:00Z"),
      processed: "19.90",
    },
    {
      tx: "ok-plus14",
      backend: "1",
      fields: entry("ok-plus14", "1", "12.3", atPlus14(now)),
      processed: "12.30",
    },
  ];
  // Interleaved: good, bad, good, bad, ... good.
  const order = good.flatMap((g, i) => (bad[i] ? [g.fields, bad[i].fields] : [g.fields]));
  return { bad, good, order, totalCents: 1 + 1200 + 500 + 1990 + 1230 };
}

async function addAll(redis: Redis, entries: string[][], stream = "pix_payments") {
  for (const fields of entries) await redis.xadd(stream, "*", ...fields);
}

async function deadLetters(redis: Redis, stream = "pix_payments") {
  return (await redis.xrange(dlqKey(stream), "-", "+")).map(([, f]) => fieldsToRecord(f));
}

/** A private Redis whose stream holds the entries of {@link mixedBatch}; disposed after the test. */
async function redisWithMixedBatch() {
  const server = await startRedis();
  const redis = client(server.url);
  const batch = mixedBatch();
  await addAll(redis, batch.order);
  return {
    ...batch,
    url: server.url,
    redis,
    async [Symbol.asyncDispose]() {
      redis.disconnect();
      await server.stop();
    },
  };
}

Deno.test(
  "stream consumer: repeated field, 00.01, a 1970 timestamp and +99:99 dead-lettered with their codes; the valid rest of the batch confirmed and counted exactly",
  INTEGRATION,
  async () => {
    await using s = await redisWithMixedBatch();
    const { bad, good, totalCents, redis } = s;
    // The consume command's path: retry hooks around every batch, here with a processing step.
    const stepSaw: string[] = [];
    const step = (payments: readonly StepPayment[]) => {
      stepSaw.push(...payments.map((p) => p.payment.transactionId));
      return Promise.resolve(new Map<string, string>());
    };
    const consumer = new StreamConsumer(
      consumerOptions(s.url, { hooks: retryHooks({ steps: [step] }) }),
    );
    const stats = await consumeUntil(
      consumer,
      async () => stepSaw.length > 0 && (await pendingCount(redis, "pix_payments")) === 0,
    );

    assert.equal(stats.batches, 1, "all nine entries were one batch");
    assert.equal(stats.read, 9);
    assert.equal(stats.confirmed, good.length);
    assert.equal(stats.rejected, bad.length);
    assert.deepEqual(stepSaw.sort(), good.map((g) => g.tx).sort(), "steps see valid payments only");
    assert.equal(await redis.get("processed_count"), String(good.length));
    assert.equal(await redis.get("total_amount_cents"), String(totalCents));
    assert.equal(await redis.get("total_amount"), "49.21");

    const dlq = await deadLetters(redis);
    assert.deepEqual(dlq.map((d) => Number(d.error_code)), bad.map((b) => b.code));
    bad.forEach((b, i) => {
      assert.match(dlq[i].reason, b.reason, b.tx);
      assert.equal(JSON.parse(dlq[i].fields).transaction_id, b.tx);
    });
    for (const backend of ["1", "2"]) {
      const confirmations = await confirmationsOf(redis, `backend_bacen_response_${backend}`);
      const rejected = confirmations.filter((c) => c.status === "rejected");
      assert.deepEqual(
        rejected.map((c) => [c.transaction_id, c.error_code]),
        bad.filter((b) => b.backend === backend).map((b) => [b.tx, String(b.code)]),
      );
      const confirmed = confirmations.filter((c) => c.status === "confirmed");
      assert.deepEqual(
        confirmed.map((c) => [c.transaction_id, c.processed_amount]).sort(),
        good.filter((g) => g.backend === backend).map((g) => [g.tx, g.processed]).sort(),
      );
      assert.equal(confirmations.length, rejected.length + confirmed.length);
    }
  },
);

Deno.test(
  "basic consumer: the same edge cases dead-lettered with their codes, the valid ones counted exactly",
  INTEGRATION,
  async () => {
    await using s = await redisWithMixedBatch();
    const { bad, good, totalCents, redis } = s;
    const consumer = new BasicStreamConsumer({
      redisUrl: s.url,
      stream: "pix_payments",
      group: "pix_consumers",
      consumerName: "basic",
      idleThresholdMs: 5000,
      blockMs: 50,
    });
    const stats = await consumeUntil(
      consumer,
      async () =>
        (await redis.xlen(dlqKey("pix_payments"))) + Number(await redis.get("processed_count")) ===
          9,
    );
    assert.deepEqual(stats, {
      read: 9,
      counted: good.length,
      duplicates: 0,
      rejected: bad.length,
      claimed: 0,
    });
    assert.equal(await redis.get("total_amount_cents"), String(totalCents));
    assert.equal(await redis.get("total_amount"), "49.21");
    const dlq = await deadLetters(redis);
    assert.deepEqual(dlq.map((d) => Number(d.error_code)), bad.map((b) => b.code));
    bad.forEach((b, i) => assert.match(dlq[i].reason, b.reason, b.tx));
    assert.equal(await pendingCount(redis, "pix_payments"), 0);
  },
);

/** Runs `deno task consume` until it has handled `total` entries, then stops it (exit 0). */
async function consumeWith(
  url: string,
  redis: Redis,
  total: number,
  options: { name: string; args?: string[]; env?: Record<string, string> },
) {
  const child = spawnConsumer(url, {
    ...options,
    args: ["--block-ms", "100", ...options.args ?? []],
  });
  try {
    await waitFor(
      "the consumer to handle every entry",
      async () =>
        Number(await redis.get("processed_count")) + await redis.xlen(dlqKey("pix_payments")) ===
          total,
      30_000,
    );
  } finally {
    child.kill("SIGTERM");
  }
  const { code, output } = await child.finished();
  assert.equal(code, 0, output);
}

Deno.test(
  "consume: --timestamp-min / TIMESTAMP_MIN and TIMESTAMP_MAX_SKEW_MS move the window (flag beats env var)",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const now = Date.now();
    const at = (ms: number) => new Date(ms).toISOString();
    await addAll(redis, [
      entry("w-1970", "1", "1.00", "1970-01-01T00:00:00Z"),
      entry("w-1959", "1", "2.00", "1959-12-31T23:59:59Z"),
      entry("w-2days", "1", "4.00", at(now + 2 * DAY_MS)),
      entry("w-4days", "1", "8.00", at(now + 4 * DAY_MS)),
    ]);
    // The flag overrides TIMESTAMP_MIN (which would refuse everything); the skew comes from env.
    await consumeWith(server.url, redis, 4, {
      name: "window",
      args: ["--timestamp-min", "1960-01-01"],
      env: { TIMESTAMP_MIN: "2100-01-01", TIMESTAMP_MAX_SKEW_MS: String(3 * DAY_MS) },
    });
    assert.equal(await redis.get("processed_count"), "2");
    assert.equal(await redis.get("total_amount"), "5.00");
    const dlq = await deadLetters(redis);
    assert.deepEqual(dlq.map((d) => [JSON.parse(d.fields).transaction_id, Number(d.error_code)]), [
      ["w-1959", ErrorCode.TIMESTAMP_TOO_OLD],
      ["w-4days", ErrorCode.TIMESTAMP_IN_FUTURE],
    ]);
    assert.match(dlq[0].reason, /is before 1960-01-01T00:00:00.000Z/);

    // The env var alone moves it too, and the flag sets the skew.
    await addAll(redis, [
      entry("w-1965", "1", "16.00", "1965-06-01T00:00:00"),
      entry("w-1963", "1", "32.00", "1963-06-01T00:00:00"),
      entry("w-now", "1", "64.00", at(now + 60_000)),
    ]);
    await consumeWith(server.url, redis, 7, {
      name: "window2",
      args: ["--timestamp-max-skew-ms", "0"],
      env: { TIMESTAMP_MIN: "1964-01-01T00:00:00Z" },
    });
    assert.equal(await redis.get("processed_count"), "3");
    assert.equal(await redis.get("total_amount"), "21.00");
    assert.deepEqual(
      (await deadLetters(redis)).slice(2).map((d) => [
        JSON.parse(d.fields).transaction_id,
        Number(d.error_code),
      ]),
      [["w-1963", ErrorCode.TIMESTAMP_TOO_OLD], ["w-now", ErrorCode.TIMESTAMP_IN_FUTURE]],
    );
    redis.disconnect();
  },
);

Deno.test(
  "consume:basic, consume:list and the gateway take --timestamp-min too",
  INTEGRATION,
  async () => {
    await using basicRedis = await startRedis();
    await using listRedis = await startRedis();
    await using gatewayRedis = await startRedis();
    const old = "1970-01-01T00:00:00Z";
    const flag = ["--timestamp-min", "1960-01-01", "--block-ms", "100"];

    const basicClient = client(basicRedis.url);
    await addAll(basicClient, [entry("b-1970", "1", "1.00", old)]);
    const basic = new ChildTool("consumer/consume_basic_command.ts", {
      args: flag,
      env: { REDIS_URL: basicRedis.url, CONSUMER_NAME: "basic" },
    });

    const listClient = client(listRedis.url);
    await listClient.lpush(
      "source_list_0",
      JSON.stringify({ transaction_id: "l-1970", backend_id: "1", amount: "2.00", timestamp: old }),
    );
    const list = new ChildTool("fifo_list_demo/consume_list_command.ts", {
      args: flag,
      env: { REDIS_URL: listRedis.url, CONSUMER_NAME: "lister" },
    });

    const gatewayClient = client(gatewayRedis.url);
    const gateway = await startGatewayProcess({
      redisUrl: gatewayRedis.url,
      port: freePort(),
      args: ["--timestamp-min", "1960-01-01"],
    });
    try {
      const post = async (timestamp: string) => {
        const response = await fetch(`${gateway.url}/pix/payments`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ backend_id: "1", amount: "3.00", timestamp }),
        });
        return { status: response.status, body: await response.json() };
      };
      assert.equal((await post(old)).status, 202);
      const refused = await post("1959-12-31T00:00:00Z");
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, ErrorCode.TIMESTAMP_TOO_OLD);
      await waitFor(
        "the gateway's entry",
        async () => await gatewayClient.xlen("pix_payments") === 1,
      );

      await waitFor(
        "the basic consumer",
        async () => await basicClient.get("processed_count") === "1",
      );
      await waitFor(
        "the list consumer",
        async () => await listClient.get("processed_count") === "1",
      );
      const [confirmation] = await confirmationsOf(listClient, "backend_bacen_response_1");
      assert.equal(confirmation.transaction_id, "l-1970");
      assert.equal(confirmation.status, "confirmed");
    } finally {
      basic.kill("SIGTERM");
      list.kill("SIGTERM");
      await gateway.stop();
    }
    assert.equal((await basic.finished()).code, 0);
    assert.equal((await list.finished()).code, 0);
    assert.equal(await basicClient.exists(dlqKey("pix_payments")), 0);
    basicClient.disconnect();
    listClient.disconnect();
    gatewayClient.disconnect();
  },
);

Deno.test("every consumer command and the gateway refuse a bad window value with an error naming the option", async () => {
  const scripts = [
    "consumer/consume_command.ts",
    "consumer/consume_basic_command.ts",
    "fifo_list_demo/consume_list_command.ts",
    "fifo_list_demo/consume_list_reliable_command.ts",
    "gateway/gateway_command.ts",
  ];
  const runs = scripts.flatMap((script) => [
    {
      script,
      tool: new ChildTool(script, { args: ["--timestamp-min", "yesterday"], env: {} }),
      expected:
        /^error: option '--timestamp-min <iso>' argument 'yesterday' is invalid\. Expected an ISO 8601 date/,
    },
    {
      script,
      tool: new ChildTool(script, { env: { TIMESTAMP_MAX_SKEW_MS: "soon" } }),
      expected:
        /^error: option '--timestamp-max-skew-ms <ms>' value 'soon' from env 'TIMESTAMP_MAX_SKEW_MS' is invalid/,
    },
  ]);
  for (const { script, tool, expected } of runs) {
    const { code, output } = await tool.finished();
    assert.notEqual(code, 0, script);
    assert.match(output, expected, script);
  }
});
