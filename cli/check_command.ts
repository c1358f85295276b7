/**
 * `deno task check`: what CI checks before the tests, in order, stopping at the first failure:
 * formatting (`deno fmt --check`), lint (`deno lint`) and types (`deno check .`).
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { UserError } from "@fastpix/pix";
import { runCommand } from "./cli.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const STEPS = [["fmt", "--check"], ["lint"], ["check", "."]];

const program = new Command("check")
  .description("Check formatting (deno fmt --check), lint (deno lint) and types (deno check .).")
  .action(async () => {
    for (const args of STEPS) {
      const { code } = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: ROOT,
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (code !== 0) throw new UserError(`deno ${args.join(" ")} failed with exit code ${code}`);
    }
  });

if (import.meta.main) await runCommand(program);
