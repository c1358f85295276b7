/**
 * Running a command: parse `Deno.args`, turn user errors into one line and a non-zero exit.
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { UserError } from "@fastpix/pix";
import {
  configureRedisTls,
  errorMessage,
  type Logger,
  logLevelProblem,
  requireUsableRedis,
} from "@fastpix/infra";
import { redisTlsOptions } from "./options.ts";

// deno-lint-ignore no-explicit-any
type AnyCommand = Command<any, any, any>;

/** The env var behind each TLS flag, for the child processes a command starts. */
const TLS_ENV: Record<string, string> = {
  redisCaFile: "REDIS_CA_FILE",
  redisCertFile: "REDIS_CERT_FILE",
  redisKeyFile: "REDIS_KEY_FILE",
};

/**
 * Every command (and subcommand) with `--redis-url` gets the TLS flags ({@link redisTlsOptions}),
 * and before its action: the TLS files are read for every connection it opens, and a connection
 * that no retry can heal (a TLS certificate rejected, a wrong password) ends it in one line.
 */
function addRedisTls(command: AnyCommand): void {
  const has = (c: AnyCommand, flag: string) => c.options.some((o) => o.long === flag);
  if (has(command, "--redis-url") && !has(command, "--redis-ca-file")) {
    for (const option of redisTlsOptions()) command.addOption(option);
    command.hook("preAction", async (_, action) => {
      const opts = action.opts() as Record<string, unknown>;
      const file = (name: string) => typeof opts[name] === "string" ? opts[name] : undefined;
      configureRedisTls({
        caFile: file("redisCaFile"),
        certFile: file("redisCertFile"),
        keyFile: file("redisKeyFile"),
      });
      // Given as flags: the commands it starts (consumers, gateways) use them too.
      for (const [name, env] of Object.entries(TLS_ENV)) {
        const value = file(name);
        if (value !== undefined) Deno.env.set(env, value);
      }
      const url = opts.redisUrl;
      const cluster = opts.redisCluster as unknown[] | undefined;
      if (typeof url === "string" && !(cluster?.length)) await requireUsableRedis(url, 2000);
    });
  }
  for (const sub of command.commands) addRedisTls(sub as AnyCommand);
}

/** Exit code for errors the user can fix (bad input, unreachable server). */
export const EXIT_USER_ERROR = 2;

/**
 * Parses the process arguments with `program` and runs its action, ending bad runs in one line.
 * A bad `LOG_LEVEL` is refused before anything else.
 */
// deno-lint-ignore no-explicit-any
export async function runCommand(program: Command<any, any, any>): Promise<void> {
  program.showHelpAfterError("(add --help for usage)");
  addRedisTls(program);
  try {
    const badLogLevel = logLevelProblem();
    if (badLogLevel !== undefined) throw new UserError(badLogLevel);
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

/**
 * Graceful stop on SIGINT/SIGTERM: the first signal calls `stop` (finish the batch in hand); a
 * second one exits at once with 130. Ctrl+C under `deno task` arrives twice within milliseconds
 * (the terminal signals the process group and deno task forwards it), so signals less than 500 ms
 * apart count as one. Returns a function that removes the listeners.
 */
export function stopOnSignals(
  stop: () => void,
  log: Logger,
  message = "stopping: finishing the batch in hand (signal again to exit now)",
): () => void {
  let firstSignalAt = 0;
  const onSignal = () => {
    const now = Date.now();
    if (firstSignalAt > 0 && now - firstSignalAt < 500) return;
    if (firstSignalAt > 0) {
      log.warn("second signal: exiting now");
      Deno.exit(130);
    }
    firstSignalAt = now;
    log.info(message);
    stop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return () => {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  };
}
