/**
 * Redis connections: ioredis with a capped exponential backoff, commands that wait through an
 * outage instead of failing, and one log line when Redis goes away and one when it is back.
 * @module
 */
import { Cluster, Redis } from "ioredis";
import { UserError } from "@fastpix/pix";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { backoffMs } from "./async.ts";
import { redactUrl } from "./redact.ts";
import { unhealableReason } from "./unhealable.ts";

export { Cluster, Redis };

/** A connection to one Redis or to a Redis Cluster: what every tool talks to. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one server (`url`), or a cluster when `cluster` lists seed nodes. */
export interface RedisTarget {
  /** `REDIS_URL`: used when `cluster` is empty or absent. */
  url: string;
  /** `REDIS_CLUSTER`: seed nodes as `host:port`; any reachable one finds the rest. */
  cluster?: readonly string[];
}

/** Options of {@link createRedis}. */
export interface RedisOptions {
  /** `CLIENT SETNAME`, shown by `CLIENT LIST` and the monitor. */
  name?: string;
  /** Where outage lines go. */
  logger?: Logger;
  /** Fail commands during an outage instead of queueing them until Redis is back. */
  failFast?: boolean;
  /** TLS options for a `rediss://` URL (default: those of {@link configureRedisTls}). */
  tls?: RedisTlsOptions;
  /**
   * Watchdog: a command with no reply after this many ms fails with "Command timed out" (see
   * {@link isCommandTimeout}); long-lived loops then reconnect rather than hang on a silent socket.
   */
  commandTimeoutMs?: number;
  /**
   * Called, instead of logging an outage, when the connection fails in a way no retry heals
   * (refused credentials, a host that does not resolve: see {@link unhealableReason}).
   */
  onUnhealable?: (error: Error) => void;
}

/** Files that make `rediss://` connections trust a private CA, and present a client certificate. */
export interface RedisTlsFiles {
  /** `REDIS_CA_FILE`: PEM certificate(s) of the CA that signed the server's certificate. */
  caFile?: string;
  /** `REDIS_CERT_FILE`: PEM client certificate, for servers with `tls-auth-clients yes`. */
  certFile?: string;
  /** `REDIS_KEY_FILE`: PEM private key of the client certificate. */
  keyFile?: string;
}

/** The contents ioredis hands to `tls.connect` (`ca`, `cert`, `key`). */
export interface RedisTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

let configuredTls: RedisTlsOptions | undefined;

/**
 * Reads the TLS files once for every `rediss://` connection this process opens from now on
 * ({@link createRedis}, {@link pingWithin}); the command-line layer calls it with
 * `--redis-ca-file`/`REDIS_CA_FILE`, `--redis-cert-file` and `--redis-key-file`. Throws a one-line
 * {@link UserError} when a file cannot be read, or only one of the certificate and key is given.
 */
export function configureRedisTls(files: RedisTlsFiles): void {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw new UserError(
      "A client certificate needs both --redis-cert-file (REDIS_CERT_FILE) and --redis-key-file " +
        "(REDIS_KEY_FILE)",
    );
  }
  const read = (path: string | undefined, what: string) => {
    if (path === undefined || path === "") return undefined;
    try {
      return Deno.readTextFileSync(path);
    } catch (error) {
      throw new UserError(`Cannot read the ${what} ${path}: ${errorMessage(error)}`);
    }
  };
  const tls = {
    ca: read(files.caFile, "Redis CA file (--redis-ca-file, REDIS_CA_FILE)"),
    cert: read(files.certFile, "Redis client certificate (--redis-cert-file, REDIS_CERT_FILE)"),
    key: read(files.keyFile, "Redis client key (--redis-key-file, REDIS_KEY_FILE)"),
  };
  configuredTls = Object.values(tls).some((v) => v !== undefined) ? tls : undefined;
}

/** The TLS options for `url`: the configured ones for `rediss://`, none for `redis://`. */
function tlsFor(url: string, tls = configuredTls): RedisTlsOptions | undefined {
  return /^rediss:/i.test(url) ? tls : undefined;
}

/** Node's codes for a server certificate that does not verify. */
const CERT_CODES =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_(GET_ISSUER_CERT|GET_ISSUER_CERT_LOCALLY|VERIFY_LEAF_SIGNATURE)|CERT_(HAS_EXPIRED|NOT_YET_VALID|UNTRUSTED|SIGNATURE_FAILURE|REVOKED)|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * What no retry heals in a Redis connection error, as advice (`undefined`: retrying may help): a
 * server certificate that does not verify, a client certificate the server wants, a wrong
 * password, missing permissions.
 */
export function redisConnectProblem(error: unknown): string | undefined {
  const code = String((error as { code?: unknown })?.code ?? "");
  const message = errorMessage(error);
  if (
    CERT_CODES.test(code) ||
    /certificate (verify failed|has expired)|self[- ]signed|invalid peer certificate|UnknownIssuer|NotValidForName/i
      .test(message)
  ) {
    return `the server's TLS certificate was rejected (${message}): give the CA that signed it ` +
      "with --redis-ca-file (REDIS_CA_FILE)";
  }
  if (/CertificateRequired|CERTIFICATE_REQUIRED/i.test(`${code} ${message}`)) {
    return `the server wants a client certificate (${message}): give it with --redis-cert-file ` +
      "and --redis-key-file (REDIS_CERT_FILE, REDIS_KEY_FILE)";
  }
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(message)) return message;
  return undefined;
} // deno-fmt-ignore

/** Whether `error` is ioredis' watchdog firing (set with `commandTimeoutMs`). */
export function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === "Command timed out";
}

/** Opens a connection (lazily: the first command connects). */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const log = options.logger ?? createLogger("redis");
  const tls = tlsFor(url, options.tls ?? configuredTls);
  const redis = new Redis(url, {
    ...(tls === undefined ? {} : { tls }),
    connectionName: options.name,
    lazyConnect: true,
    maxRetriesPerRequest: options.failFast ? 0 : null,
    enableOfflineQueue: !options.failFast,
    retryStrategy: (attempt) => backoffMs(attempt),
    commandTimeout: options.commandTimeoutMs,
  });
  let down = false;
  redis.on("error", (error: Error) => {
    if (options.onUnhealable && unhealableReason(error) !== undefined) {
      return options.onUnhealable(error);
    }
    if (down) return;
    down = true;
    const problem = redisConnectProblem(error);
    if (problem !== undefined) log.error(`Cannot use Redis at ${redactUrl(url)}: ${problem}`);
    else {
      log.warn(
        `Redis unavailable at ${redactUrl(url)} (${errorMessage(error)}); retrying with backoff`,
      );
    }
  });
  redis.on("ready", () => {
    if (!down) return;
    down = false;
    log.info(`Redis is back at ${redactUrl(url)}`);
  });
  return redis;
}

/** Whether `target` names a cluster. */
export function isCluster(target: RedisTarget): boolean {
  return (target.cluster?.length ?? 0) > 0;
}

/** `host:port` → `{ host, port }`; throws on anything else. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^\[?([A-Za-z0-9_.:-]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new Error(`Cannot parse cluster node "${text}": expected host:port`);
  }
  return { host: match[1], port };
}

/** The target for logs: the URL without its password, or `cluster host:port,...`. */
export function describeTarget(target: RedisTarget): string {
  return isCluster(target) ? `cluster ${target.cluster!.join(",")}` : redactUrl(target.url);
}

/**
 * Opens a connection to `target` (lazily: the first command connects): {@link createRedis} for one
 * server, an ioredis `Cluster` for a cluster. The one factory every tool uses; a cluster client
 * follows MOVED redirections and failovers by itself, and logs outages like {@link createRedis}.
 */
export function createClient(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (!isCluster(target)) return createRedis(target.url, options);
  const log = options.logger ?? createLogger("redis");
  const where = describeTarget(target);
  const cluster = new Cluster(target.cluster!.map(parseHostPort), {
    lazyConnect: true,
    enableOfflineQueue: !options.failFast,
    clusterRetryStrategy: (times) => backoffMs(times),
    // During a failover commands are retried (and the slot map refreshed) for a while before
    // they fail; the caller's own retry loop takes it from there.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    maxRedirections: 32,
    slotsRefreshTimeout: 2000,
    redisOptions: { connectionName: options.name, commandTimeout: options.commandTimeoutMs },
  });
  let down = false;
  const onError = (error: Error) => {
    if (options.onUnhealable && unhealableReason(error) !== undefined) {
      return options.onUnhealable(error);
    }
    if (down) return;
    down = true;
    log.warn(`Redis unavailable at ${where} (${errorMessage(error)}); retrying with backoff`);
  };
  cluster.on("error", onError);
  cluster.on("node error", onError);
  cluster.on("ready", () => {
    if (!down) return;
    down = false;
    log.info(`Redis is back at ${where}`);
  });
  return cluster;
}

/** Sends PING with a deadline; resolves to false when Redis does not answer in time. */
export async function pingWithin(
  url: string,
  timeoutMs: number,
  tls?: RedisTlsOptions,
): Promise<boolean> {
  return (await probeRedis(url, timeoutMs, tls)) === undefined;
}

/**
 * Sends PING with a deadline; resolves to `undefined` when Redis answers, else to why not (the
 * connection's error when there was one).
 */
export async function probeRedis(
  url: string,
  timeoutMs: number,
  tls = tlsFor(url),
): Promise<unknown> {
  const probe = new Redis(url, {
    ...(tls === undefined ? {} : { tls }),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  let connectError: unknown;
  probe.on("error", (error) => connectError ??= error);
  let timer: ReturnType<typeof setTimeout> | undefined;
  // One deadline for the whole probe: a TLS 1.3 server that refuses the client's certificate
  // closes the socket after the handshake, and ioredis' connect() then never settles.
  const deadline = new Promise<string>((resolve) =>
    timer = setTimeout(() => resolve("timeout"), timeoutMs)
  );
  try {
    const answer = await Promise.race([probe.connect().then(() => probe.ping()), deadline]);
    if (answer === "PONG") return undefined;
    return connectError ?? new Error(`no answer within ${timeoutMs} ms`);
  } catch (error) {
    return connectError ?? error;
  } finally {
    clearTimeout(timer); // a pending timer would keep short-lived commands alive
    probe.disconnect();
  }
}

/**
 * Throws a one-line {@link UserError} when a connection to Redis at `url` fails in a way no retry
 * heals ({@link redisConnectProblem}); an unreachable Redis passes (the caller waits for it).
 */
export async function requireUsableRedis(url: string, timeoutMs = 3000): Promise<void> {
  const failure = await probeRedis(url, timeoutMs);
  const problem = failure === undefined ? undefined : redisConnectProblem(failure);
  if (problem !== undefined) {
    throw new UserError(`Cannot use Redis at ${redactUrl(url)}: ${problem}`);
  }
}

/**
 * Throws a one-line {@link UserError} when Redis at `target` does not answer within `timeoutMs`
 * (a cluster: when none of its seed nodes answers), saying what to fix when no retry would help
 * (a TLS certificate, a password, a permission).
 */
export async function requireRedis(
  target: string | RedisTarget,
  timeoutMs = 3000,
): Promise<void> {
  const t = typeof target === "string" ? { url: target } : target;
  if (!isCluster(t)) {
    const failure = await probeRedis(t.url, timeoutMs);
    if (failure === undefined) return;
    const problem = redisConnectProblem(failure);
    if (problem !== undefined) {
      throw new UserError(`Cannot use Redis at ${redactUrl(t.url)}: ${problem}`);
    }
    throw new UserError(
      `Cannot reach Redis at ${redactUrl(t.url)}: start redis-server there or set REDIS_URL`,
    );
  }
  for (const node of t.cluster!) {
    const { host, port } = parseHostPort(node);
    if (await pingWithin(`redis://${host}:${port}`, timeoutMs)) return;
  }
  throw new UserError(
    `Cannot reach any Redis Cluster node of ${t.cluster!.join(",")}: ` +
      "start the cluster (deno task cluster up) or fix REDIS_CLUSTER",
  );
}
