/**
 * `deno task processor --name default --port 8001 --fee 0.05`: one payment processor simulator
 * with the Rinha de Backend 2025 contract (see `processor.ts`). Runs until SIGINT/SIGTERM.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { createLogger } from "@fastpix/infra";
import { intIn, parseBoolean, runCommand } from "@fastpix/cli";
import { UserError } from "@fastpix/pix";
import { parseFee, type ProcessorOptions, ProcessorSimulator } from "./processor.ts";

/** The challenge's fees and ports per processor name. */
const KNOWN = {
  default: { fee: 500, port: 8001 },
  fallback: { fee: 1500, port: 8002 },
} as const;

function feeOption(text: string): number {
  const fee = parseFee(text);
  if (fee === undefined) {
    throw new InvalidArgumentError("Expected a fee from 0 to 1 with at most 4 decimals.");
  }
  return fee;
}

function listen(options: ProcessorOptions): ProcessorSimulator {
  try {
    return ProcessorSimulator.start(options);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UserError(`Cannot listen on port ${options.port}: it is in use; pass --port`);
    }
    throw error;
  }
}

const program = new Command("processor")
  .description("Run a payment processor simulator (Rinha de Backend 2025 contract).")
  .addOption(
    new Option("--name <name>", "processor name: default or fallback").env("PROCESSOR_NAME")
      .default("default"),
  )
  .addOption(
    new Option("--port <port>", "port (default: 8001 for default, 8002 for fallback)")
      .env("PROCESSOR_PORT").argParser(intIn(0, 65535)),
  )
  .addOption(
    new Option("--hostname <host>", "address to listen on").env("PROCESSOR_HOSTNAME")
      .default("127.0.0.1"),
  )
  .addOption(
    new Option("--fee <fraction>", "fee per transaction (default: 0.05 default, 0.15 fallback)")
      .env("TRANSACTION_FEE").argParser(feeOption),
  )
  .addOption(
    new Option("--token <token>", "admin token (X-Rinha-Token)").env("INITIAL_TOKEN")
      .default("123"),
  )
  .addOption(
    new Option("--delay <ms>", "initial delay of POST /payments").default(0)
      .argParser(intIn(0, 600_000)),
  )
  .addOption(
    new Option("--failure [bool]", "start failing").default(false).preset("true")
      .argParser(parseBoolean),
  )
  .addOption(
    new Option("--health-window-ms <ms>", "at most one health check per this window")
      .env("HEALTH_WINDOW_MS").default(5000).argParser(intIn(1, 3_600_000)),
  )
  .addOption(
    new Option("--max-concurrent <n>", "payments in progress beyond which 429 (0: no limit)")
      .default(0).argParser(intIn(0, 1_000_000)),
  )
  .action(async (opts) => {
    const known = KNOWN[opts.name as keyof typeof KNOWN];
    const processor = listen({
      name: opts.name,
      port: opts.port ?? known?.port ?? 8001,
      hostname: opts.hostname,
      feeBasisPoints: opts.fee ?? known?.fee ?? 500,
      token: opts.token,
      delayMs: opts.delay,
      failing: opts.failure,
      healthWindowMs: opts.healthWindowMs,
      maxConcurrent: opts.maxConcurrent,
    });
    const log = createLogger(`processor ${opts.name}`);
    log.info(
      `listening on ${processor.url} (fee ${
        processor.feeBasisPoints / 10_000
      }, delay ${processor.delayMs} ms${processor.failing ? ", failing" : ""})`,
    );
    const stopped = new Promise<void>((resolve) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
    });
    await stopped;
    Deno.exit(0);
  });

if (import.meta.main) await runCommand(program);
