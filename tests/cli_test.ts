/**
 * What every command shares, run as real child processes: a bad `LOG_LEVEL` is refused at start.
 */
import assert from "node:assert/strict";
import { ChildTool, INTEGRATION, startRedis } from "./_helpers.ts";

Deno.test(
  "an unknown LOG_LEVEL is refused in one line with exit 2, before any work",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const monitor = (level: string) =>
      new ChildTool("monitor/monitor_command.ts", {
        args: ["--json"],
        env: { REDIS_URL: server.url, LOG_LEVEL: level },
      }).finished();
    const bad = await monitor("verbose");
    assert.equal(bad.code, 2, bad.output);
    assert.equal(bad.output, 'monitor: Bad LOG_LEVEL="verbose": use debug, info, warn or error\n');
    // The same command with a level it knows (in any case) does its work.
    const good = await monitor("WARN");
    assert.equal(good.code, 0, good.output);
    assert.equal(JSON.parse(good.output).available, true);
    // `deno task test` too, before running any test.
    const tests = await new ChildTool("tests/run.ts", {
      args: ["pix/money_test.ts"],
      env: { LOG_LEVEL: "trace" },
    }).finished();
    assert.equal(tests.code, 2, tests.output);
    assert.equal(tests.output, 'test: Bad LOG_LEVEL="trace": use debug, info, warn or error\n');
  },
);
