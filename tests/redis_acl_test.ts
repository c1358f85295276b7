/**
 * Least privilege: each role runs as a Redis ACL user with exactly the rights {@link ROLES} lists
 * (the rules the docs give), and payments go end to end; a user missing one right fails with
 * refused (NOPERM) in one log line, not silently and not a line per request.
 */
import assert from "node:assert/strict";
import { startGatewayProcess } from "@fastpix/loadtest";
import { freePort } from "@fastpix/testing";
import { createRedis } from "@fastpix/infra";
import { ChildTool, INTEGRATION, spawnConsumer, startRedis, waitFor } from "./_helpers.ts";

/** What each role may do (single stream, default key names), as `ACL SETUSER` rules. */
const ROLES = {
  consumer: "~pix_payments* ~backend_bacen_response_* ~pix:* ~processed_count* ~total_amount* " +
    "+ping +info +client|setname +xgroup|create +xreadgroup +xautoclaim +xpending " +
    "+xinfo|groups +xlen +xtrim +hset +hdel +hmget +evalsha +eval +xack +xadd +get +set " +
    "+incrby +exists +type +xrange +xclaim +xinfo|consumers +xgroup|delconsumer",
  gateway: "~pix_payments* %R~backend_bacen_response_* +ping +info +client|setname +evalsha " +
    "+eval +xadd +xinfo|groups +xlen +xread +xrevrange",
  injector: "~pix_payments* %R~backend_bacen_response_* +ping +info +client|setname +evalsha " +
    "+eval +xadd +xread +xrevrange",
  monitor: "%R~* +ping +info +client|setname +scan +type +xinfo|groups +xinfo|stream " +
    "+xinfo|consumers +xpending +xlen +xrevrange +get +mget +hgetall +llen +memory|usage +time",
};

async function post(base: string, backend: string, query = "") {
  const r = await fetch(`${base}/pix/payments${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ backend_id: backend, amount: "1.00" }),
  });
  return { status: r.status, body: await r.json() };
}

Deno.test(
  "consumer, gateway, injector and monitor as ACL users with only their rules: wait=true confirmed; a missing right is one log line",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const admin = createRedis(server.url, { name: "test" });
    const users = {
      ...ROLES,
      gateway_without_xadd: ROLES.gateway.replace(" +xadd", ""),
      gateway_without_xrevrange: ROLES.gateway.replace(" +xrevrange", ""),
    };
    for (const [user, rules] of Object.entries(users)) {
      await admin.call("ACL", "SETUSER", user, "reset", "on", `>pw-${user}`, ...rules.split(" "));
    }
    const url = (user: string) => `redis://${user}:pw-${user}@127.0.0.1:${server.port}`;
    const consumer = spawnConsumer(url("consumer"), { name: "acl_consumer" });
    const gateway = await startGatewayProcess({ redisUrl: url("gateway"), port: freePort() });
    try {
      await waitFor("/health 200", async () => {
        const r = await fetch(`${gateway.url}/health`);
        await r.body?.cancel();
        return r.status === 200;
      });
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post(gateway.url, `b${i % 5}`, "?wait=true")),
      );
      for (const a of answers) {
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.equal(a.body.status, "confirmed");
      }
      // An entry no payment can be made of: dead-lettered, with the consumer's own rights.
      await admin.xadd("pix_payments", "*", "transaction_id", "bad-1", "amount", "x");
      const inject = await new ChildTool("simulators/inject_command.ts", {
        args: ["--num-requests", "100", "--await"],
        env: { REDIS_URL: url("injector"), LOG_LEVEL: "warn" },
      }).finished();
      assert.equal(inject.code, 0, inject.output);
      await waitFor("120 processed", async () => await admin.get("processed_count") === "120");
      await waitFor("the dead letter", async () => await admin.xlen("pix_payments:dlq") === 1);
      const monitor = await new ChildTool("monitor/monitor_command.ts", {
        args: ["--json"],
        env: { REDIS_URL: url("monitor"), LOG_LEVEL: "warn" },
      }).finished();
      assert.equal(monitor.code, 0, monitor.output);
      const snapshot = JSON.parse(monitor.output);
      assert.equal(snapshot.available, true, monitor.output);
      assert.equal(snapshot.error, null);
      // Nobody was refused anything.
      assert.deepEqual(await admin.call("ACL", "LOG"), []);
    } finally {
      await gateway.stop();
      consumer.kill("SIGTERM");
    }
    const consumed = await consumer.finished();
    assert.doesNotMatch(consumed.output, /NOPERM/);

    // One right missing: every request is refused, and the log says why once.
    for (
      const [user, query, line] of [
        [
          "gateway_without_xadd",
          "",
          // XADD runs in the enqueue script: Redis says so in its own words.
          /enqueue of 1 payments failed: ERR The user executing the script can't run this command/,
        ],
        [
          "gateway_without_xrevrange",
          "?wait=true",
          /cannot watch the confirmations of backend 1: NOPERM .*'xrevrange' command/,
        ],
      ] as const
    ) {
      const refused = await startGatewayProcess({
        redisUrl: url(user),
        port: freePort(),
        env: { LOG_LEVEL: "warn" },
      });
      try {
        if (query === "") {
          const r = await post(refused.url, "1");
          assert.equal(r.status, 503, JSON.stringify(r.body));
        } else {
          for (let i = 0; i < 3; i++) {
            assert.equal((await post(refused.url, "1", query)).status, 503);
          }
        }
      } finally {
        await refused.stop();
      }
      const { output } = await refused.tool.finished();
      const lines = output.trim().split("\n").filter((l) => / (warn|error): /.test(l));
      assert.equal(lines.length, 1, output);
      assert.match(lines[0], line);
    }
    admin.disconnect();
  },
);
