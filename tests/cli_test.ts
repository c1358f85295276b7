/**
 * What every command shares, run as real child processes: each task of deno.json answers `--help`
 * with its own text, a bad `LOG_LEVEL` is refused at start, `deno task test:unit` runs unit tests
 * only.
 */
import assert from "node:assert/strict";
import { Limiter } from "@fastpix/infra";
import { ChildTool, INTEGRATION, startRedis } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("every task of deno.json answers --help with its own usage, not Deno's", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const names = Object.keys(tasks);
  assert.ok(names.length > 20 && names.includes("test:unit"), names.join(" "));
  const limiter = new Limiter(3);
  const answers = await Promise.all(names.map(async (name) => {
    await limiter.acquire();
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", name, "--help"],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      return { name, code: out.code, text, err: new TextDecoder().decode(out.stderr) };
    } finally {
      limiter.release();
    }
  }));
  const problems = answers.flatMap(({ name, code, text, err }) => {
    if (code !== 0) return [`${name}: exit ${code}: ${err.trim().split("\n").at(-1)}`];
    // Deno's own help (`deno run --help`, `deno check --help`) says "Usage: deno <subcommand>".
    if (/Usage: deno |docs\.deno\.com/.test(text)) return [`${name}: Deno's own help`];
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    if (!new RegExp(`^Usage: ${escaped} `, "m").test(text)) return [`${name}: no "Usage: ${name}"`];
    return [];
  });
  assert.deepEqual(problems, []);
});

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
