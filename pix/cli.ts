/**
 * Running a command: parse `Deno.args`, turn user errors into one line and a non-zero exit.
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { UserError } from "./errors.ts";
import { errorMessage } from "./log.ts";

/** Exit code for errors the user can fix (bad input, unreachable server). */
export const EXIT_USER_ERROR = 2;

/** Parses the process arguments with `program` and runs its action, ending bad runs in one line. */
// deno-lint-ignore no-explicit-any
export async function runCommand(program: Command<any, any, any>): Promise<void> {
  program.showHelpAfterError("(add --help for usage)");
  try {
    await program.parseAsync(Deno.args, { from: "user" });
  } catch (error) {
    if (error instanceof UserError) {
      console.error(`${program.name()}: ${error.message}`);
      Deno.exit(EXIT_USER_ERROR);
    }
    console.error(`${program.name()}: unexpected error: ${errorMessage(error)}`);
    if (Deno.env.get("LOG_LEVEL") === "debug") console.error(error);
    Deno.exit(1);
  }
}
