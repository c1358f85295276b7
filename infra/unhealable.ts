/**
 * Which connection errors no retry can heal: wrong credentials, missing permissions or database, a
 * TLS certificate that does not verify, a host name that does not resolve. A long-running process
 * stops on these with one line (a fix needs a person), and keeps retrying everything else (a server
 * restarting, a connection reset, a timeout). One rule for PostgreSQL and Redis.
 * @module
 */
import { errorMessage } from "./log.ts";

/** PostgreSQL SQLSTATEs (and classes, ending in `*`) that no retry heals, with what they mean. */
const POSTGRES_CODES: [code: string, label: string][] = [
  ["28*", "authentication failed"], // 28000 no pg_hba.conf entry / role missing, 28P01 password
  ["42501", "permission denied"],
  ["3D000", "the database does not exist"],
];

/** Redis error replies (their first word) that no retry heals. */
const REDIS_REPLIES: [prefix: RegExp, label: string][] = [
  [/^WRONGPASS\b/, "authentication failed"],
  [/^NOAUTH\b/, "authentication required"],
  [/^NOPERM\b/, "permission denied"],
  // NOPERM inside a Lua script (Redis 7.0 reports it as ERR).
  [/^ERR The user executing the script can't run this command/, "permission denied"],
  // A password sent to a Redis that has none: the configuration disagrees with the server.
  [
    /^ERR (AUTH .*called without any password configured|Client sent AUTH, but no password)/i,
    "authentication failed",
  ],
]; // deno-fmt-ignore

/** Host lookups that failed (Node's `getaddrinfo` codes, as Deno's node:net reports them too). */
const LOOKUP_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_NODATA", "EAI_FAIL"]);

/** TLS certificate verification failures: Node's error codes... */
const TLS_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);
/** ...and the messages of Deno's TLS (rustls) and OpenSSL for the same. */
const TLS_MESSAGE =
  /invalid peer certificate|certificate verify failed|self[- ]signed certificate|unable to verify the first certificate|certificate has expired|does not match certificate's altnames|UnknownIssuer|NotValidForName/i;

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : "";
}

function matches(code: string, pattern: string): boolean {
  return pattern.endsWith("*") ? code.startsWith(pattern.slice(0, -1)) : code === pattern;
}

/** The error and what it wraps (`cause`, an AggregateError's `errors`), nearest first. */
function chain(error: unknown, depth = 0): unknown[] {
  if (error === null || error === undefined || depth > 4) return [];
  const e = error as { cause?: unknown; errors?: unknown };
  const inner = Array.isArray(e.errors) ? e.errors : [];
  return [error, ...chain(e.cause, depth + 1), ...inner.flatMap((x) => chain(x, depth + 1))];
}

/**
 * Why `error` cannot heal by retrying (`"authentication failed: <message>"`), or `undefined` when
 * it may: a PostgreSQL error 28xxx (authentication), 42501 (permission) or 3D000 (no such
 * database); a Redis `WRONGPASS`, `NOAUTH` or `NOPERM` reply; a host that does not resolve
 * (`ENOTFOUND`, `EAI_AGAIN`); a TLS certificate that does not verify.
 */
export function unhealableReason(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const code = codeOf(e);
    const message = errorMessage(e);
    const label = POSTGRES_CODES.find(([c]) =>
      /^[0-9A-Z]{5}$/.test(code) && matches(code, c)
    )?.[1] ??
      REDIS_REPLIES.find(([prefix]) => prefix.test(message))?.[1] ??
      (LOOKUP_CODES.has(code) ||
          /getaddrinfo (ENOTFOUND|EAI_AGAIN)|failed to lookup address/i.test(message)
        ? "the host name does not resolve"
        : undefined) ??
      (TLS_CODES.has(code) || TLS_MESSAGE.test(message)
        ? "the TLS certificate was rejected"
        : undefined);
    if (label !== undefined) return `${label}: ${message}`;
  } // deno-fmt-ignore
  return undefined;
}
