/**
 * Errors that cannot heal stop every consumer within 10 s with one line and a non-zero exit, at
 * the start and later: a wrong password (also once Redis changes it under a running consumer),
 * missing permissions, a host that does not resolve. A Redis that cannot be reached at the start
 * is the same one line the other tools print, unless WAIT_FOR_REDIS: then the consumer waits for
 * it and works once it is up. Real processes, private redis-servers.
 */
import assert from "node:assert/strict";
import { DESIGN_NAMES, DESIGNS } from "@fastpix/queue";
import { createRedis, type Redis } from "@fastpix/infra";
import {
  ChildTool,
  enqueueFor,
  exitWithin,
  INTEGRATION,
  RedisServer,
  spawnDesign,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const PASSWORD = "right-horse-battery";
const WRONG = "wrong-staple-1234";

const count = async (redis: Redis) => Number(await redis.get("processed_count"));

/** The one line a consumer printed about an unusable Redis, checked. */
function assertOneLine(
  exit: Awaited<ReturnType<typeof exitWithin>>,
  pattern: RegExp,
  what: string,
): void {
  assert.notEqual(exit.code, 0, `${what}: exit code\n${exit.output}`);
  assert.ok(exit.ms < 10_000, `${what}: took ${exit.ms} ms\n${exit.output}`);
  const about = exit.lines.filter((l) =>
    /Cannot use Redis|WRONGPASS|NOAUTH|NOPERM|ENOTFOUND/.test(l)
  );
  assert.equal(about.length, 1, `${what}: one line about it\n${exit.output}`);
  assert.match(about[0], pattern, `${what}\n${exit.output}`);
  assert.ok(!exit.output.includes(PASSWORD) && !exit.output.includes(WRONG), "a password leaked");
}

for (const design of DESIGN_NAMES) {
  Deno.test(
    `${design}: refused credentials and permissions stop the consumer with one line, at the start and later`,
    INTEGRATION,
    async () => {
      await using server = await startRedis();
      const url = (password: string) => `redis://:${password}@127.0.0.1:${server.port}`;
      const admin = createRedis(server.url, { name: "test" });
      await admin.config("SET", "requirepass", PASSWORD); // this connection stays authenticated

      // At the start: a wrong password, and a host that does not resolve.
      let exit = await exitWithin(spawnDesign(design, url(WRONG), { name: "intruder" }));
      assertOneLine(exit, /: Cannot use Redis at redis:\/\/\S+: WRONGPASS/, "wrong password");
      assert.equal(exit.lines.length, 1, exit.output);
      exit = await exitWithin(
        spawnDesign(design, `redis://:${WRONG}@fastpix-no-such-host.invalid:6379`, {
          name: "lost",
        }),
      );
      assertOneLine(
        exit,
        /: Cannot use Redis at .*: the host name does not resolve/,
        "unknown host",
      );
      assert.equal(exit.lines.length, 1, exit.output);

      // Later: a user that may read but not write (NOPERM on the consumer's first write).
      await admin.call(
        "ACL",
        "SETUSER",
        "reader",
        "on",
        `>${PASSWORD}`,
        "~*",
        "&*",
        "+@all",
        "-@write",
      );
      const readerUrl = `redis://reader:${PASSWORD}@127.0.0.1:${server.port}`;
      await enqueueFor(design, admin, 10);
      exit = await exitWithin(spawnDesign(design, readerUrl, { name: "reader" }));
      assertOneLine(
        exit,
        /: Cannot use Redis at .*: (NOPERM|permission denied: ERR The user)/,
        "no write",
      );

      // Later: the password changes under a running consumer; it reconnects and is refused.
      const consumer = spawnDesign(design, url(PASSWORD), { name: "victim" });
      await waitFor("the consumer to work", async () => await count(admin) === 10);
      await admin.config("SET", "requirepass", "changed-" + PASSWORD);
      await admin.call("CLIENT", "KILL", "TYPE", "normal"); // SKIPME yes: not this connection
      exit = await exitWithin(consumer);
      assertOneLine(exit, /: Cannot use Redis at .*: WRONGPASS/, "password changed");
      // Not the old way: "batch failed: WRONGPASS ... (entries stay pending)", for ever. (The
      // killed connection itself may log one outage line before the refused reconnect.)
      assert.ok(!/failed: (WRONGPASS|NOAUTH)/.test(exit.output), exit.output);
      admin.disconnect();
    },
  );

  Deno.test(
    `${design}: no Redis at the start: the tools' one line, or WAIT_FOR_REDIS waits and then works`,
    INTEGRATION,
    async () => {
      // Port 1: nothing listens there, and no test server can take it meanwhile.
      const closed = "redis://127.0.0.1:1";
      const exit = await exitWithin(spawnDesign(design, closed, { name: "early" }));
      assert.equal(exit.code, 2, exit.output);
      assert.deepEqual(exit.lines, [
        `${DESIGNS[design].consumerTask}: Cannot reach Redis at ${closed}: ` +
        "start redis-server there or set REDIS_URL",
      ]);

      // Not Redis yet: a listener that hangs up on whoever calls, until the consumer has called.
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      let calls = 0;
      (async () => {
        for await (const conn of listener) {
          calls++;
          conn.close();
        }
      })().catch(() => {});
      const url = `redis://127.0.0.1:${port}`;
      const patient = spawnDesign(design, url, {
        name: "patient",
        env: { WAIT_FOR_REDIS: "true" },
      });
      await waitFor("the consumer to try Redis", () => calls >= 2);
      listener.close();
      await using server = await RedisServer.start({ port });
      const redis = createRedis(server.url, { name: "test" });
      const payments = await enqueueFor(design, redis, 50);
      await waitFor(
        "the payments to be counted",
        async () => await count(redis) === payments.length,
      );
      patient.kill("SIGTERM");
      const done = await exitWithin(patient);
      assert.equal(done.code, 0, done.output);
      assert.equal(done.lines.filter((l) => /waiting for it/.test(l)).length, 1, done.output);
      redis.disconnect();
    },
  );
}

Deno.test("a consumer's 'cannot reach Redis' line is inject's line", INTEGRATION, async () => {
  const env = { REDIS_URL: "redis://127.0.0.1:1", LOG_LEVEL: "info" };
  const lines = await Promise.all(
    ["simulators/inject_command.ts", "consumer/consume_command.ts"].map(async (script) =>
      (await exitWithin(new ChildTool(script, { env }))).lines
    ),
  );
  assert.equal(lines[0].length, 1, lines[0].join("\n"));
  assert.equal(lines[0][0].replace(/^inject: /, ""), lines[1][0].replace(/^consume: /, ""));
});
