/**
 * `deno task k6:check`: type-checks the k6 scenarios of loadtest/k6/ with `deno check` against
 * k6's types (k6 runs them, not Deno, so nothing else checks them). Extra arguments go to
 * `deno check`.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { runCommand } from "@fastpix/cli";
import { UserError } from "@fastpix/pix";

const ROOT = new URL("../", import.meta.url).pathname;

const program = new Command("k6:check")
  .description("Type-check the k6 scenarios of loadtest/k6/ (deno check with k6's types).")
  .argument("[check-flags...]", "more `deno check` flags (after --)")
  .action(async (flags) => {
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["check", ...flags, "loadtest/k6/"],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) throw new UserError(`deno check loadtest/k6/ failed with exit code ${code}`);
  });

if (import.meta.main) await runCommand(program);
