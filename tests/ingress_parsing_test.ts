/**
 * One strict JSON reading at both HTTP servers, against real redis-server processes: a key given
 * twice is refused (400, 3006) instead of taking the last value, and an amount is judged on its
 * exact source text by the same rules in the gateway and the Rinha API (`19.999999999999999` is
 * refused by both with 1202, never rounded to 20.00; `19.9`, `19.90` and `20` are accepted).
 */
import assert from "node:assert/strict";
import { GATEWAY_DEFAULTS, serveGateway } from "@fastpix/gateway";
import { RINHA_KEYS, RinhaApi } from "@fastpix/rinha";
import { DEFAULT_LIMITS, ErrorCode } from "@fastpix/pix";
import { client, INTEGRATION, startRedis } from "./_helpers.ts";

async function post(url: string, body: string) {
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  return { status: response.status, body: await response.json() };
}

Deno.test(
  "gateway: duplicate keys get 400 with 3006, amounts are read from their exact text",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const gateway = await serveGateway({
      redisUrl: server.url,
      design: "stream",
      target: { stream: "pix_payments", group: "pix_consumers", numLists: 1 },
      responsePrefix: "backend_bacen_response_",
      maxBodyBytes: GATEWAY_DEFAULTS.maxBodyBytes,
      waitTimeoutMs: 1000,
      limits: DEFAULT_LIMITS,
      batchMax: 1,
      batchDelayMs: 0,
      port: 0,
      hostname: "127.0.0.1",
      reusePort: false,
    });
    try {
      const url = `${gateway.url}/pix/payments`;
      const twice = await post(url, '{"backend_id":"1","amount":"1.00","amount":"999999.00"}');
      assert.equal(twice.status, 400, JSON.stringify(twice.body));
      assert.equal(twice.body.code, ErrorCode.REQUEST_JSON_DUPLICATE_KEY);
      assert.equal(twice.body.error, "request_json_duplicate_key");
      assert.match(twice.body.message, /"amount" appears twice/);
      const nested = await post(url, '{"backend_id":"1","amount":"1.00","backend_id":"2"}');
      assert.equal(nested.body.code, ErrorCode.REQUEST_JSON_DUPLICATE_KEY);

      const rounded = await post(url, '{"backend_id":"1","amount":19.999999999999999}');
      assert.equal(rounded.status, 400);
      assert.equal(rounded.body.code, ErrorCode.AMOUNT_FORMAT);
      assert.equal(await redis.exists("pix_payments"), 0, "nothing was enqueued");

      for (const [i, amount] of ["19.9", "19.90", "20"].entries()) {
        const ok = await post(
          url,
          `{"transaction_id":"t${i}","backend_id":"1","amount":${amount}}`,
        );
        assert.equal(ok.status, 202, `${amount}: ${JSON.stringify(ok.body)}`);
      }
      const entries = await redis.xrange("pix_payments", "-", "+");
      const amounts = entries.map(([, f]) => f[f.indexOf("amount") + 1]);
      assert.deepEqual(amounts, ["19.90", "19.90", "20.00"]);
    } finally {
      await gateway.stop();
      redis.disconnect();
    }
  },
);

Deno.test(
  "Rinha API: duplicate keys get 400 with 3006, the gateway's amount rules on the exact text",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await using api = await RinhaApi.start({ redisUrl: server.url, port: 0 });
    const url = `http://127.0.0.1:${api.port}/payments`;
    const id = () => crypto.randomUUID();

    const twice = await post(url, `{"correlationId":"${id()}","amount":1.00,"amount":999999.00}`);
    assert.equal(twice.status, 400, JSON.stringify(twice.body));
    assert.equal(twice.body.code, ErrorCode.REQUEST_JSON_DUPLICATE_KEY);
    assert.match(twice.body.error, /"amount" appears twice/);
    const idTwice = await post(
      url,
      `{"correlationId":"${id()}","correlationId":"${id()}","amount":1}`,
    );
    assert.equal(idTwice.body.code, ErrorCode.REQUEST_JSON_DUPLICATE_KEY);

    const cases: [string, number, number][] = [
      ["19.999999999999999", 422, ErrorCode.AMOUNT_FORMAT],
      ["19.999", 422, ErrorCode.AMOUNT_FORMAT],
      ["1e2", 422, ErrorCode.AMOUNT_FORMAT],
      ["0", 422, ErrorCode.AMOUNT_NOT_POSITIVE],
      ["-5", 422, ErrorCode.AMOUNT_NOT_POSITIVE],
      ['"19.90"', 422, ErrorCode.REQUEST_FIELD_TYPE],
    ];
    for (const [amount, status, code] of cases) {
      const r = await post(url, `{"correlationId":"${id()}","amount":${amount}}`);
      assert.equal(r.status, status, `${amount}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code, `${amount}: ${JSON.stringify(r.body)}`);
    }
    const missing = await post(url, `{"amount":1}`);
    assert.equal(missing.body.code, ErrorCode.TRANSACTION_ID_MISSING);
    const notUuid = await post(url, `{"correlationId":"x","amount":1}`);
    assert.equal(notUuid.body.code, ErrorCode.TRANSACTION_ID_INVALID);
    const noAmount = await post(url, `{"correlationId":"${id()}"}`);
    assert.equal(noAmount.body.code, ErrorCode.AMOUNT_MISSING);
    const notJson = await post(url, "{");
    assert.equal(notJson.body.code, ErrorCode.REQUEST_JSON_INVALID);
    const array = await post(url, "[]");
    assert.equal(array.body.code, ErrorCode.REQUEST_NOT_AN_OBJECT);
    const route = await post(`http://127.0.0.1:${api.port}/nowhere`, "{}");
    assert.equal(route.body.code, ErrorCode.NOT_FOUND);
    assert.equal(await redis.hlen(RINHA_KEYS.amounts), 0, "nothing was queued");

    const ids: string[] = [];
    for (const amount of ["19.9", "19.90", "20"]) {
      ids.push(id());
      const ok = await post(url, `{"correlationId":"${ids.at(-1)}","amount":${amount}}`);
      assert.equal(ok.status, 202, `${amount}: ${JSON.stringify(ok.body)}`);
    }
    assert.deepEqual(await redis.hmget(RINHA_KEYS.amounts, ...ids), ["1990", "1990", "2000"]);
    redis.disconnect();
  },
);
