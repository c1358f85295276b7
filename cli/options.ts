/**
 * Command-line options shared by every tool. Each flag mirrors an env var from DESIGN.md
 * (`--redis-url` / `REDIS_URL`); a flag beats the env var, which beats the default. Bad values end
 * the command with one line naming the flag or variable and what is expected.
 * Kept in one file so a later move from commander to Cliffy stays local.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { BACKEND_ID_PATTERN, DEFAULT_LIMITS, DEFAULT_MIN_TIMESTAMP_MS } from "@fastpix/pix";
import { DEFAULT_LIST_BASE, type ListNaming } from "@fastpix/pix";
import { parseAmountCents, parseTimestamp, type ValidationLimits } from "@fastpix/pix";
import { UserError } from "@fastpix/pix";
import { MAX_PARTITIONS, parseShare, redactUrl } from "@fastpix/infra";
import { parseHostPort } from "@fastpix/infra";

/** Parser for a whole number in `[min, max]`. */
export function intIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (
      !/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max
    ) {
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}.`);
    }
    return value;
  };
}

/** Parser for booleans written as true/false, yes/no, 1/0, on/off. */
export function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["true", "yes", "1", "on"].includes(t)) return true;
  if (["false", "no", "0", "off", ""].includes(t)) return false;
  throw new InvalidArgumentError("Expected true or false.");
}

/**
 * A URL whose userinfo may hold unencoded reserved characters (`postgres://u:p#s/s?@host/db`, as
 * people paste passwords), percent-encoded so that URL parsers read it as meant: the userinfo ends
 * at the last `@`, `%XX` sequences are kept, everything else reserved is encoded. A URL that
 * needs nothing comes back unchanged.
 */
export function encodeUserinfo(text: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text)?.[0];
  if (scheme === undefined) return text;
  const rest = text.slice(scheme.length);
  const at = rest.lastIndexOf("@");
  if (at < 0) return text;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(":");
  const encode = (part: string) =>
    part.replace(/%[0-9A-Fa-f]{2}|[^]/gu, (c) => c.length === 3 ? c : encodeURIComponent(c));
  const encoded = colon < 0
    ? encode(userinfo)
    : `${encode(userinfo.slice(0, colon))}:${encode(userinfo.slice(colon + 1))}`;
  return encoded === userinfo ? text : `${scheme}${encoded}${rest.slice(at)}`;
}

/**
 * Parses a URL of one of `protocols` after {@link encodeUserinfo}; a bad one is a one-line
 * {@link UserError} that shows the URL without its password (commander would print it whole).
 */
function parseSecretUrl(text: string, protocols: string[], expected: string): string {
  let url: URL | undefined;
  let normalized = text;
  try {
    normalized = encodeUserinfo(text);
    url = new URL(normalized);
  } catch { /* reported below */ }
  if (url === undefined || !protocols.includes(url.protocol)) {
    throw new UserError(`Cannot use ${redactUrl(text) || '""'}: expected ${expected}`);
  }
  return normalized;
}

/**
 * Parser for a Redis URL (`redis://[[user]:password@]host:port[/db]` or `rediss://`); reserved
 * characters in the password need no percent-encoding.
 */
export function parseRedisUrl(text: string): string {
  return parseSecretUrl(
    text,
    ["redis:", "rediss:"],
    "a Redis URL such as redis://localhost:6379 or rediss://:password@host:6380/0",
  );
}

/** Parser for an http:// or https:// URL (a trailing slash is dropped). */
export function parseHttpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError("Expected a URL such as http://localhost:8001.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError("Expected an http:// or https:// URL.");
  }
  return text.replace(/\/+$/, "");
}

/** Parser for a key or group name: printable, no spaces, at most 200 characters. */
export function parseName(text: string): string {
  if (!/^[\x21-\x7e]{1,200}$/.test(text)) {
    throw new InvalidArgumentError("Expected 1-200 printable characters without spaces.");
  }
  return text;
}

/** Parser for a backend id (`[A-Za-z0-9_-]{1,64}`: it becomes part of a key name). */
export function parseBackendId(text: string): string {
  if (!BACKEND_ID_PATTERN.test(text)) {
    throw new InvalidArgumentError("Expected 1-64 of A-Z a-z 0-9 _ -.");
  }
  return text;
}

/** Parser for an amount in BRL, returned in cents. */
export function parseAmountOption(text: string): number {
  const cents = parseAmountCents(text);
  if (cents === undefined || cents === 0) {
    throw new InvalidArgumentError(
      "Expected an amount above zero with a dot and at most 2 decimals.",
    );
  }
  return cents;
}

/** `--redis-url` / `REDIS_URL`. */
export const redisUrlOption = () =>
  new Option("--redis-url <url>", "Redis to use").env("REDIS_URL").default("redis://localhost:6379")
    .argParser(parseRedisUrl);

/**
 * `--redis-ca-file` / `REDIS_CA_FILE`, `--redis-cert-file` / `REDIS_CERT_FILE`, `--redis-key-file`
 * / `REDIS_KEY_FILE`: TLS for `rediss://` URLs. {@link runCommand} adds them to every command that
 * has `--redis-url`.
 */
export const redisTlsOptions = () => [
  new Option("--redis-ca-file <path>", "rediss://: PEM CA certificate(s) to trust (a private CA)")
    .env("REDIS_CA_FILE"),
  new Option("--redis-cert-file <path>", "rediss://: PEM client certificate (tls-auth-clients)")
    .env("REDIS_CERT_FILE"),
  new Option("--redis-key-file <path>", "rediss://: PEM private key of the client certificate")
    .env("REDIS_KEY_FILE"),
];

/** `--stream` / `REDIS_STREAM`. */
export const streamOption = () =>
  new Option("--stream <name>", "payment stream").env("REDIS_STREAM").default("pix_payments")
    .argParser(parseName);

/** `--group` / `GROUP_NAME`. */
export const groupOption = () =>
  new Option("--group <name>", "consumer group").env("GROUP_NAME").default("pix_consumers")
    .argParser(parseName);

/** `--response-prefix` / `BACKEND_RESPONSE_PREFIX`. */
export const responsePrefixOption = () =>
  new Option("--response-prefix <prefix>", "prefix of the backends' confirmation streams")
    .env("BACKEND_RESPONSE_PREFIX").default("backend_bacen_response_").argParser(parseName);

/** `--redis-list` / `REDIS_LIST`: the list designs' queues are `<base>_<i>`. */
export const redisListOption = () =>
  new Option("--redis-list <base>", "list designs: base name of the queues, <base>_<i>")
    .env("REDIS_LIST").default(DEFAULT_LIST_BASE).argParser(parseName);

/** `--use-hashtag` / `USE_HASHTAG`: the list designs' queues are `{<base>_<i>}`. */
export const useHashtagOption = () =>
  new Option(
    "--use-hashtag [bool]",
    "list designs: name the queues {<base>_<i>} (each in its own cluster slot)",
  ).env("USE_HASHTAG").default(false).preset("true").argParser(parseBoolean);

/**
 * The list designs' naming from {@link redisListOption} and {@link useHashtagOption}. With
 * braces in the base a hash tag would not be the whole name: refused.
 */
export function listNaming(flags: { redisList: string; useHashtag: boolean }): ListNaming {
  if (flags.useHashtag && /[{}]/.test(flags.redisList)) {
    throw new UserError(
      `REDIS_LIST ${
        JSON.stringify(flags.redisList)
      } has braces: with USE_HASHTAG the whole name is the hash tag, so leave them out`,
    );
  }
  return { base: flags.redisList, hashtag: flags.useHashtag };
}

/** `--backend-id` / `BACKEND_ID`. */
export const backendIdOption = () =>
  new Option("--backend-id <id>", "backend whose payments are sent").env("BACKEND_ID").default("1")
    .argParser(parseBackendId);

/** `--idle-threshold-ms` / `IDLE_THRESHOLD_MS`. */
export const idleThresholdOption = () =>
  new Option("--idle-threshold-ms <ms>", "idle time before another consumer reclaims an entry")
    .env("IDLE_THRESHOLD_MS").default(5000).argParser(intIn(1, 86_400_000));

/** `--max-deliveries` / `MAX_DELIVERIES` (alias `MAX_RETRIES`: see {@link resolveMaxDeliveries}). */
export const maxDeliveriesOption = () =>
  new Option(
    "--max-deliveries <n>",
    "deliveries (processing attempts) before an entry is dead-lettered (env MAX_RETRIES too)",
  )
    .env("MAX_DELIVERIES").default(5).argParser(intIn(1, 1000));

/**
 * `MAX_RETRIES` is the seed's name for `MAX_DELIVERIES`, with the same meaning: how many times an
 * entry is delivered (processed) before its next delivery dead-letters it. It applies when neither
 * the flag nor `MAX_DELIVERIES` is given; given together, they must agree. `source` is commander's
 * value source of `--max-deliveries` (`"default"`, `"env"`, `"cli"`).
 */
export function resolveMaxDeliveries(value: number, source: string | undefined): number {
  const retries = Deno.env.get("MAX_RETRIES");
  if (retries === undefined || retries === "") return value;
  let parsed: number;
  try {
    parsed = intIn(1, 1000)(retries);
  } catch (error) {
    throw new UserError(`MAX_RETRIES: ${(error as Error).message}`);
  }
  if (source === "default" || source === undefined) return parsed;
  if (parsed !== value) {
    throw new UserError(
      `MAX_RETRIES=${parsed} disagrees with --max-deliveries/MAX_DELIVERIES=${value}: they are the same limit, set one`,
    );
  }
  return value;
}

/** `--stream-maxlen` / `STREAM_MAXLEN`. */
export const streamMaxlenOption = () =>
  new Option(
    "--stream-maxlen <n>",
    "approximate cap of the payment stream (acknowledged entries only)",
  )
    .env("STREAM_MAXLEN").default(1_000_000).argParser(intIn(1, 2 ** 40));

/** `--response-maxlen` / `RESPONSE_MAXLEN`. */
export const responseMaxlenOption = () =>
  new Option("--response-maxlen <n>", "approximate cap of each confirmation stream")
    .env("RESPONSE_MAXLEN").default(100_000).argParser(intIn(1, 2 ** 40));

/** `--max-amount` / `PIX_MAX_AMOUNT` (in BRL; parsed to cents). */
export const maxAmountOption = () =>
  new Option("--max-amount <brl>", "largest accepted payment").env("PIX_MAX_AMOUNT")
    .default(100_000_000, "1000000.00").argParser(parseAmountOption);

/**
 * Parser for an instant: an ISO 8601 date (`2000-01-01`, midnight UTC) or timestamp
 * (`2000-01-01T00:00:00Z`; no zone: UTC), returned in epoch ms.
 */
export function parseInstant(text: string): number {
  const t = text.trim();
  const ms = parseTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
  if (ms === undefined) {
    throw new InvalidArgumentError(
      "Expected an ISO 8601 date or timestamp such as 2000-01-01 or 2000-01-01T00:00:00Z.",
    );
  }
  return ms;
}

/** `--timestamp-min` / `TIMESTAMP_MIN` (epoch ms): payments timestamped earlier are refused (1304). */
export const timestampMinOption = () =>
  new Option("--timestamp-min <iso>", "earliest accepted payment timestamp (ISO 8601 date or time)")
    .env("TIMESTAMP_MIN").default(DEFAULT_MIN_TIMESTAMP_MS, "2000-01-01T00:00:00Z")
    .argParser(parseInstant);

/** `--timestamp-max-skew-ms` / `TIMESTAMP_MAX_SKEW_MS`: later than now + this is refused (1303). */
export const timestampMaxSkewOption = () =>
  new Option("--timestamp-max-skew-ms <ms>", "how far ahead of now a payment timestamp may be")
    .env("TIMESTAMP_MAX_SKEW_MS").default(DEFAULT_LIMITS.maxFutureSkewMs)
    .argParser(intIn(0, 10 * 366 * 24 * 3600 * 1000));

/**
 * The validation limits set by {@link maxAmountOption}, {@link timestampMinOption} and
 * {@link timestampMaxSkewOption}; the other limits keep their defaults.
 */
export function validationLimits(
  flags: { maxAmount: number; timestampMin: number; timestampMaxSkewMs: number },
): ValidationLimits {
  return {
    ...DEFAULT_LIMITS,
    maxAmountCents: flags.maxAmount,
    minTimestampMs: flags.timestampMin,
    maxFutureSkewMs: flags.timestampMaxSkewMs,
  };
}

/**
 * Parser for a PostgreSQL DSN (`postgres://user[:password]@host[:port]/database`; empty: none);
 * reserved characters in the password need no percent-encoding.
 */
export function parsePostgresDsn(text: string): string {
  if (text === "") return text; // set but empty: no ledger
  return parseSecretUrl(
    text,
    ["postgres:", "postgresql:"],
    "a PostgreSQL URL such as postgres://user:password@localhost:5432/fastpix",
  );
}

/** `--postgres-dsn` / `POSTGRES_DSN` (unset: ledger off). */
export const postgresDsnOption = () =>
  new Option("--postgres-dsn <dsn>", "PostgreSQL ledger (unset: no ledger)").env("POSTGRES_DSN")
    .argParser(parsePostgresDsn);

/** `--postgres-connect-timeout-ms` / `POSTGRES_CONNECT_TIMEOUT_MS`: connect and log in. */
export const postgresConnectTimeoutOption = () =>
  new Option("--postgres-connect-timeout-ms <ms>", "PostgreSQL connect (and log-in) timeout")
    .env("POSTGRES_CONNECT_TIMEOUT_MS").default(5000).argParser(intIn(100, 600_000));

/** `--postgres-statement-timeout-ms` / `POSTGRES_STATEMENT_TIMEOUT_MS`: one statement. */
export const postgresStatementTimeoutOption = () =>
  new Option("--postgres-statement-timeout-ms <ms>", "PostgreSQL statement timeout")
    .env("POSTGRES_STATEMENT_TIMEOUT_MS").default(10_000).argParser(intIn(100, 3_600_000));

/**
 * `--postgres-idle-in-transaction-timeout-ms` / `POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS`: how long
 * PostgreSQL keeps a session that sits idle inside a transaction.
 */
export const postgresIdleTimeoutOption = () =>
  new Option(
    "--postgres-idle-in-transaction-timeout-ms <ms>",
    "PostgreSQL ends a session idle in a transaction this long",
  ).env("POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS").default(10_000)
    .argParser(intIn(100, 3_600_000));

/** A command that talks to PostgreSQL: `--postgres-dsn` and the three timeouts already added. */
export function postgresCommand(name: string) {
  return new Command(name)
    .addOption(postgresDsnOption())
    .addOption(postgresConnectTimeoutOption())
    .addOption(postgresStatementTimeoutOption())
    .addOption(postgresIdleTimeoutOption());
}

/** The PostgreSQL timeouts (`postgres*TimeoutOption`) from parsed options. */
export function postgresTimeouts(opts: {
  postgresConnectTimeoutMs: number;
  postgresStatementTimeoutMs: number;
  postgresIdleInTransactionTimeoutMs: number;
}): { connectMs: number; statementMs: number; idleInTransactionMs: number } {
  return {
    connectMs: opts.postgresConnectTimeoutMs,
    statementMs: opts.postgresStatementTimeoutMs,
    idleInTransactionMs: opts.postgresIdleInTransactionTimeoutMs,
  };
}

/** `--ledger-max-backlog` / `LEDGER_MAX_BACKLOG`. */
export const ledgerMaxBacklogOption = () =>
  new Option(
    "--ledger-max-backlog <rows>",
    "ledger rows that may wait in Redis for PostgreSQL before consumers pause",
  ).env("LEDGER_MAX_BACKLOG").default(200_000).argParser(intIn(1, 100_000_000));

/** `consumer_<host>_<pid>`, the original's naming. */
export function defaultConsumerName(): string {
  return `consumer_${Deno.hostname()}_${Deno.pid}`;
}

/** `--consumer-name` / `CONSUMER_NAME`. */
export const consumerNameOption = () =>
  new Option("--consumer-name <name>", "this consumer's name (group member, processing list)")
    .env("CONSUMER_NAME").default(defaultConsumerName(), "consumer_<host>_<pid>")
    .argParser(parseName);

/** `--batch-size` / `CONSUMER_BATCH_SIZE` of a consumer. */
export const consumerBatchSizeOption = (defaultSize: number) =>
  new Option("--batch-size <n>", "payments taken per read").env("CONSUMER_BATCH_SIZE")
    .default(defaultSize).argParser(intIn(1, 10_000));

/** `--block-ms` / `BLOCK_MS`. */
export const blockMsOption = (defaultMs: number) =>
  new Option("--block-ms <ms>", "how long one read waits for new payments").env("BLOCK_MS")
    .default(defaultMs).argParser(intIn(1, 60_000));

/** `--mark-ttl` / `IDEMPOTENCY_TTL_SECONDS`. */
export const markTtlOption = (defaultSeconds: number) =>
  new Option("--mark-ttl <seconds>", "how long a processed transaction id is remembered")
    .env("IDEMPOTENCY_TTL_SECONDS").default(defaultSeconds)
    .argParser(intIn(1, 10 * 365 * 24 * 3600));

/** `--settle-ms` / `SETTLE_MS`: simulated settlement work per batch. */
export const settleMsOption = () =>
  new Option("--settle-ms <ms>", "simulated settlement time per batch (0: none)").env("SETTLE_MS")
    .default(0).argParser(intIn(0, 60_000));
/** Parser for `REDIS_CLUSTER`: `host:port,host:port,...` (empty: no cluster). */
export function parseClusterNodes(text: string): string[] {
  const nodes = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const node of nodes) {
    try {
      parseHostPort(node);
    } catch {
      throw new InvalidArgumentError(
        `Expected host:port,host:port,... ("${node}" is not host:port).`,
      );
    }
  }
  return nodes;
}

/** `--redis-cluster` / `REDIS_CLUSTER`: when set, every connection goes to this Redis Cluster. */
export const redisClusterOption = () =>
  new Option("--redis-cluster <host:port,...>", "Redis Cluster seed nodes (instead of --redis-url)")
    .env("REDIS_CLUSTER").argParser(parseClusterNodes);

/** `--partitions` / `PARTITIONS`: 0 (the default) keeps the single stream. */
export const partitionsOption = () =>
  new Option("--partitions <n>", "split the stream into n hash-tagged partitions (0: one stream)")
    .env("PARTITIONS").default(0).argParser(intIn(0, MAX_PARTITIONS));

/** `--route-by` / `PARTITION_ROUTE_BY`: what producers hash to pick a partition. */
export const routeByOption = () =>
  new Option("--route-by <field>", "what picks a payment's partition")
    .env("PARTITION_ROUTE_BY").choices(["transaction", "backend"] as const)
    .default("transaction" as const);

/** `--partitions-of` / `PARTITIONS_OF`: a consumer's static share `i/n` (default: all). */
export const partitionsOfOption = () =>
  new Option("--partitions-of <i/n>", "own the partitions of consumer i of n (default: all)")
    .env("PARTITIONS_OF").argParser((text) => {
      try {
        return parseShare(text);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message + ".");
      }
    });
