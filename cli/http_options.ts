/**
 * Flags of the HTTP serving layer, shared by the gateway and the Rinha API: timeouts, connection
 * and in-flight caps, and the stack id that lets sibling processes share a port.
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { defaultMaxConnections, HTTP_DEFAULTS, type HttpLimits } from "@fastpix/http";
import { intIn, parseName } from "./options.ts";

/** `--headers-timeout-ms` / `HTTP_HEADERS_TIMEOUT_MS`. */
export const headersTimeoutOption = () =>
  new Option("--headers-timeout-ms <ms>", "longest a request's headers may take (then 408, close)")
    .env("HTTP_HEADERS_TIMEOUT_MS").default(HTTP_DEFAULTS.headersTimeoutMs)
    .argParser(intIn(100, 600_000));

/** `--body-timeout-ms` / `HTTP_BODY_TIMEOUT_MS`. */
export const bodyTimeoutOption = () =>
  new Option(
    "--body-timeout-ms <ms>",
    "longest a request's body may take to arrive, or an answer to be written (then 408, close)",
  ).env("HTTP_BODY_TIMEOUT_MS").default(HTTP_DEFAULTS.bodyTimeoutMs)
    .argParser(intIn(100, 3_600_000));

/** `--idle-timeout-ms` / `HTTP_IDLE_TIMEOUT_MS`. */
export const idleTimeoutOption = () =>
  new Option("--idle-timeout-ms <ms>", "how long a keep-alive connection may wait for a request")
    .env("HTTP_IDLE_TIMEOUT_MS").default(HTTP_DEFAULTS.idleTimeoutMs)
    .argParser(intIn(100, 3_600_000));

/** `--max-connections` / `HTTP_MAX_CONNECTIONS`. */
export const maxConnectionsOption = () =>
  new Option("--max-connections <n>", "most open connections per process (past it: 503, close)")
    .env("HTTP_MAX_CONNECTIONS")
    .default(defaultMaxConnections(), "open file limit less a reserve, at most 10000")
    .argParser(intIn(1, 1_000_000));

/** `--max-in-flight` / `HTTP_MAX_IN_FLIGHT`. */
export const maxInFlightOption = () =>
  new Option("--max-in-flight <n>", "most requests being read or answered per process (past: 503)")
    .env("HTTP_MAX_IN_FLIGHT").default(HTTP_DEFAULTS.maxInFlight).argParser(intIn(1, 1_000_000));

/** `--port-stack` / `FASTPIX_PORT_STACK`: set by the command that starts sibling processes. */
export const portStackOption = () =>
  new Option(
    "--port-stack <id>",
    "share the port with the processes of this stack (set by --workers and rinha start)",
  ).env("FASTPIX_PORT_STACK").argParser(parseName);

/** Adds the serving layer's limit flags (timeouts and caps) to `command`. */
// deno-lint-ignore ban-types
export function withHttpLimitOptions<A extends unknown[], O extends {}, G extends {}>(
  command: Command<A, O, G>,
) {
  return command
    .addOption(headersTimeoutOption())
    .addOption(bodyTimeoutOption())
    .addOption(idleTimeoutOption())
    .addOption(maxConnectionsOption())
    .addOption(maxInFlightOption());
}

/** The limits set by {@link withHttpLimitOptions}'s flags and `maxBodyBytes`. */
export function httpLimitsOf(
  flags: {
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
    idleTimeoutMs: number;
    maxConnections: number;
    maxInFlight: number;
  },
  maxBodyBytes: number,
): HttpLimits {
  return {
    headersTimeoutMs: flags.headersTimeoutMs,
    bodyTimeoutMs: flags.bodyTimeoutMs,
    idleTimeoutMs: flags.idleTimeoutMs,
    maxConnections: flags.maxConnections,
    maxInFlight: flags.maxInFlight,
    maxBodyBytes,
    maxHeaderBytes: HTTP_DEFAULTS.maxHeaderBytes,
  };
}

/** The same limits as `--flag value` arguments, for processes a command starts. */
export function httpLimitArgs(limits: HttpLimits): string[] {
  return [
    "--headers-timeout-ms",
    String(limits.headersTimeoutMs),
    "--body-timeout-ms",
    String(limits.bodyTimeoutMs),
    "--idle-timeout-ms",
    String(limits.idleTimeoutMs),
    "--max-connections",
    String(limits.maxConnections),
    "--max-in-flight",
    String(limits.maxInFlight),
    "--max-body-bytes",
    String(limits.maxBodyBytes),
  ];
}
