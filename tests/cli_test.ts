/**
 * What every command shares, run as real child processes: a bad `LOG_LEVEL` is refused at start;
 * `deno task test:unit` runs unit tests only.
 */
import assert from "node:assert/strict";
import { ChildTool, INTEGRATION, startRedis } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);

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

Deno.test("test:unit runs the unit tests beside the code only, and none may start a server", async () => {
  const unit = (...args: string[]) =>
    new ChildTool("tests/run.ts", { args: ["--unit", ...args] }).finished();
  const infra = await unit("infra/");
  assert.equal(infra.code, 0, infra.output);
  assert.match(infra.output, /running \d+ tests? from \.\/infra\/histogram_test\.ts/);
  assert.match(infra.output, /\n\d+ passed, 0 failed\n/);
  // A test file in tests/ is left out even when named.
  const left = await unit("infra/async_test.ts", "tests/cli_test.ts");
  assert.doesNotMatch(left.output, /cli_test/);
  // A "unit" test that opens a port fails: no network permission.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/server_test.ts`,
      'Deno.test("s", () => Deno.listen({ port: 0 }).close());\n',
    );
    const server = await unit(`${dir}/server_test.ts`);
    assert.notEqual(server.code, 0);
    assert.match(server.output, /NotCapable|PermissionDenied|Requires net access/);
    assert.match(server.output, /\n0 passed, 1 failed\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
