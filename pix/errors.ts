/** An error the user caused (bad flag, env var, unreachable server): shown as one line, no stack. */
export class UserError extends Error {
  override name = "UserError";
}
