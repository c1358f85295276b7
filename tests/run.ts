/**
 * `deno task test`: runs every test (unit tests beside the code, integration tests in tests/)
 * and ends with the line `N passed, N failed` that CI reads. Extra arguments go to `deno test`.
 * `deno task test:unit` (`--unit`) runs only the unit tests, without network or child processes.
 * @module
 */
import { logLevelProblem } from "@fastpix/infra";

const args = [...Deno.args];
const unit = args.includes("--unit");

const USAGE = `Usage: ${unit ? "test:unit" : "test [--unit]"} [deno test arguments...]

Runs the tests with \`deno test\` and ends with the line "N passed, N failed" (counted from the
JUnit report .test-results/junit.xml).

  deno task test        every test: the unit tests beside the code (*_test.ts outside tests/) and
                        the integration tests in tests/, which start private redis-server and
                        PostgreSQL processes on free ports and run the commands as child processes
  deno task test:unit   (--unit) the unit tests only, in seconds: tests/ is left out and the tests
                        run without network or subprocess permission, so none can start a server

Options:
  --unit                the unit tests only
  -h, --help            this text

Other arguments go to \`deno test\`: files or folders to run, --filter <name>, --fail-fast, ...
  deno task test tests/consumer_test.ts --filter "happy path"

Environment:
  LOG_LEVEL             debug, info, warn or error for the commands the tests run (default warn)`;

if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
  Deno.exit(0);
}
const badLogLevel = logLevelProblem();
if (badLogLevel !== undefined) {
  console.error(`test: ${badLogLevel}`);
  Deno.exit(2);
}
const testArgs = args.filter((a) => a !== "--unit");
// Unit tests may write only into a scratch folder of their own (their TMPDIR), removed after.
const scratch = unit ? await Deno.makeTempDir({ prefix: "fastpix-unit-" }) : undefined;
const permissions = scratch
  ? ["--allow-read", "--allow-env", `--allow-write=${scratch}`, "--ignore=tests/"]
  : ["-A"];

const junit = ".test-results/junit.xml";
await Deno.mkdir(".test-results", { recursive: true });
await Deno.remove(junit).catch(() => {}); // a report left by an earlier run must not be counted
const { code } = await new Deno.Command(Deno.execPath(), {
  args: ["test", ...permissions, "--no-check=remote", `--junit-path=${junit}`, ...testArgs],
  env: { LOG_LEVEL: Deno.env.get("LOG_LEVEL") ?? "warn", ...(scratch ? { TMPDIR: scratch } : {}) },
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
let passed = 0, failed = 0;
try {
  const xml = await Deno.readTextFile(junit);
  const cases = xml.match(/<testcase\b[^>]*?(\/>|>[\s\S]*?<\/testcase>)/g) ?? [];
  for (const c of cases) {
    if (/<failure\b|<error\b/.test(c)) failed++;
    else if (!/<skipped\b/.test(c)) passed++;
  }
} catch {
  failed = Math.max(failed, 1); // no report: the run itself broke
}
if (code !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed`);
Deno.exit(code);
