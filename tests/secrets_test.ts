/**
 * The Redis password never leaves the process: not in a benchmark's JSON result, not in the
 * gateway's log lines (a `?password=` URL, an outage), not in `/metrics`, not in the one line a
 * bad or unreachable URL ends a command with, not in `--help`.
 */
import assert from "node:assert/strict";
import { startGatewayProcess } from "@fastpix/loadtest";
import { freePort } from "@fastpix/testing";
import { createRedis, sleep } from "@fastpix/infra";
import { ChildTool, INTEGRATION, startRedis } from "./_helpers.ts";

const SECRET = "s3cr3t";

/** A private Redis that asks for {@link SECRET}. */
async function passwordRedis() {
  const server = await startRedis();
  const admin = createRedis(server.url, { name: "test" });
  await admin.config("SET", "requirepass", SECRET);
  admin.disconnect();
  return server;
}

Deno.test(
  "bench --json writes the Redis URL without its password",
  INTEGRATION,
  async () => {
    await using server = await passwordRedis();
    const dir = await Deno.makeTempDir();
    try {
      const url = `redis://:${SECRET}@127.0.0.1:${server.port}`;
      const bench = await new ChildTool("loadtest/bench_command.ts", {
        args: [
          ...["--redis-url", url, "--payments", "200", "--warmup", "0", "--rate", "100"],
          ...["--duration", "1", "--consumers", "1", "--json", `${dir}/bench.json`],
        ],
        env: { LOG_LEVEL: "warn" },
      }).finished();
      assert.equal(bench.code, 0, bench.output);
      const text = await Deno.readTextFile(`${dir}/bench.json`);
      assert.equal(JSON.parse(text).options.redisUrl, `redis://:***@127.0.0.1:${server.port}`);
      assert.ok(!text.includes(SECRET), text);
      assert.ok(!bench.output.includes(SECRET), bench.output);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "the gateway's log lines and /metrics never show a ?password= given in REDIS_URL",
  INTEGRATION,
  async () => {
    await using server = await passwordRedis();
    const gateway = await startGatewayProcess({
      redisUrl: `redis://127.0.0.1:${server.port}/?password=${SECRET}`,
      port: freePort(),
      env: { LOG_LEVEL: "info" },
    });
    let stopped = false;
    try {
      const posted = await fetch(`${gateway.url}/pix/payments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"backend_id":"1","amount":"1.00"}',
      });
      assert.equal(posted.status, 202, await posted.text());
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      assert.ok(!metrics.includes(SECRET));
      await server.kill(); // an outage: the gateway says so, naming Redis
      await sleep(300);
      await gateway.stop();
      stopped = true;
      const { output } = await gateway.tool.finished();
      assert.match(output, /listening on .*Redis redis:\/\/127\.0\.0\.1:\d+\/\?password=\*\*\*\)/);
      assert.match(output, /Redis unavailable at redis:\/\/127\.0\.0\.1:\d+\/\?password=\*\*\*/);
      assert.ok(!output.includes(SECRET), output);
    } finally {
      if (!stopped) await gateway.stop();
    }
  },
);

Deno.test(
  "a bad or unreachable Redis URL ends a command in one line without the password; --help shows none",
  INTEGRATION,
  async () => {
    const gateway = (env: Record<string, string>, ...args: string[]) =>
      new ChildTool("gateway/gateway_command.ts", { args, env: { LOG_LEVEL: "warn", ...env } })
        .finished();
    // Does not parse: given as a flag, and as REDIS_URL.
    for (
      const run of [
        await gateway({}, "--redis-url", `redis://:${SECRET}@ho st:6379`),
        await gateway({ REDIS_URL: `redis://:${SECRET}@ho st:6379` }),
      ]
    ) {
      assert.equal(run.code, 2, run.output);
      assert.equal(
        run.output,
        "gateway: Cannot use redis://:***@ho st:6379: expected a Redis URL such as " +
          "redis://localhost:6379 or rediss://:password@host:6380/0\n",
      );
    }
    // Parses, as something else than meant (a # in the password), and nothing answers there.
    const port = freePort();
    const unreachable = await gateway({ REDIS_URL: `redis://:p@ss#${SECRET}@127.0.0.1:${port}` });
    assert.equal(unreachable.code, 2, unreachable.output);
    assert.equal(unreachable.output.trim().split("\n").length, 1, unreachable.output);
    assert.match(
      unreachable.output,
      /^gateway: Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/,
    );
    assert.ok(!unreachable.output.includes(SECRET), unreachable.output);
    // --help shows defaults, never the environment's values.
    const help = await gateway({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:${port}` }, "--help");
    assert.equal(help.code, 0);
    assert.ok(!help.output.includes(SECRET), help.output);
  },
);
