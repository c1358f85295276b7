/**
 * One snapshot of everything the monitor shows, read with one pipelined round of commands:
 * the payment stream, its groups and consumers, the counters, the dead-letter stream, the latency
 * the consumers publish, the backends' response streams and the list designs' queues (both found by
 * an incremental `SCAN`). Rendering lives elsewhere; this module only reads and decodes.
 * @module
 */
import {
  DEFAULT_LIST_BASE,
  dlqKey,
  ErrorCode,
  formatCents,
  LATENCY_KEY,
  ledgerBacklogKey,
  LIST_PROCESSING_PREFIX,
  parseAmountCents,
  PROCESSED_COUNT_KEY,
  sourceListPrefixes,
  TOTAL_AMOUNT_CENTS_KEY,
  TOTAL_AMOUNT_KEY,
} from "@fastpix/pix";
import {
  errorMessage,
  type LatencySummary,
  redactUrl,
  type Redis,
  type WindowSummary,
} from "@fastpix/infra";
import { KeyScanner } from "./key_scanner.ts";
import { DlqCodeCounter } from "./dlq_codes.ts";
import type { LedgerStats } from "@fastpix/consumer";

/** A consumer of a group, from `XINFO CONSUMERS`. */
export interface ConsumerInfo {
  name: string;
  /** Entries delivered to it and not yet acknowledged. */
  pending: number;
  /** Milliseconds since it last talked to the group. */
  idleMs: number;
  /** Idle longer than the threshold while holding pending entries. */
  stalled: boolean;
}

/** The pending entry of a group with the smallest id, from `XPENDING <stream> <group> - + 1`. */
export interface OldestPending {
  id: string;
  consumer: string;
  /** Milliseconds since the entry was added to the stream (its id's time, by Redis's clock). */
  ageMs: number;
  /** Milliseconds since it was last delivered. */
  idleMs: number;
  deliveries: number;
}

/** A consumer group, from `XINFO GROUPS` and `XINFO CONSUMERS`. */
export interface GroupInfo {
  name: string;
  pending: number;
  lastDeliveredId: string;
  entriesRead: number | null;
  /** Entries not yet delivered to the group (null when Redis cannot tell). */
  lag: number | null;
  consumers: ConsumerInfo[];
  /** The oldest pending entry (null: none pending; absent: not read, as for a new group). */
  oldestPending?: OldestPending | null;
}

/** The payment stream, from `XINFO STREAM` and `MEMORY USAGE`. */
export interface StreamInfo {
  length: number;
  lastGeneratedId: string;
  firstEntryId: string | null;
  lastEntryId: string | null;
  entriesAdded: number;
  memoryBytes: number | null;
}

/** A backend's confirmation stream. */
export interface ResponseStreamInfo {
  key: string;
  backendId: string;
  length: number;
  lastId: string;
}

/** A latency summary one consumer published in `pix:latency` (milliseconds), since its start. */
export interface LatencyInfo extends LatencySummary {
  consumer: string;
  /** When the consumer published it (ISO 8601). */
  at: string;
  /** The last `seconds` only (absent when the consumer publishes no window). */
  window?: WindowSummary;
}

/** An error code and how many of the sampled dead letters carry it. */
export interface ErrorCodeCount {
  code: string;
  /** The code's name (`MAX_DELIVERIES_EXCEEDED`) when it is one of ours. */
  name: string | null;
  count: number;
}

/** A list design's queue or processing list. */
export interface ListInfo {
  key: string;
  kind: "source_list" | "processing_list";
  length: number;
}

/** Everything the monitor shows at one instant. */
export interface Snapshot {
  /** When the snapshot was taken (ISO 8601). */
  at: string;
  redisUrl: string;
  stream: string;
  group: string;
  idleThresholdMs: number;
  /** False when Redis did not answer; `error` says why and the rest is empty. */
  available: boolean;
  error: string | null;
  server: { version: string; uptimeSeconds: number; usedMemoryBytes: number } | null;
  counters: {
    processed: number;
    /** Exact BRL total, 2 places (from `total_amount_cents`, else `total_amount`). */
    totalBrl: string;
    totalSource: "total_amount_cents" | "total_amount" | "none";
  };
  /** Null when the payment stream does not exist. */
  streamInfo: StreamInfo | null;
  groups: GroupInfo[];
  /** The configured group at a glance (zeros when it does not exist). */
  processor: {
    groupExists: boolean;
    pending: number;
    lag: number | null;
    consumers: number;
    /** Consumers idle less than the threshold. */
    activeConsumers: number;
    stalledConsumers: number;
  };
  responses: {
    prefix: string;
    streams: ResponseStreamInfo[];
    totalLength: number;
    /** False until the first full `SCAN` pass is done (the list may be partial). */
    scanComplete: boolean;
  };
  dlq: {
    key: string;
    length: number;
    sampled: number;
    topCodes: ErrorCodeCount[];
    /** Entries ever added to the dead-letter stream (`entries-added`; 0 when it does not exist). */
    entriesAdded?: number;
    /**
     * Every dead letter counted by error code, most frequent first: present when the state counts
     * codes ({@link SnapshotState.dlqCodes}) and a full count is done (it lags a little behind).
     */
    codes?: ErrorCodeCount[];
  };
  latency: LatencyInfo[];
  lists: ListInfo[];
  /** Things worth knowing that are not outages (a key of the wrong type, say). */
  notes: string[];
  /** Round trips this snapshot took (1 unless the set of groups changed or a scan was completed). */
  rounds: number;
  durationMs: number;
  /** The PostgreSQL ledger's statistics, when the monitor reads a ledger and it answered. */
  ledger?: LedgerStats;
  /** Ledger rows waiting in Redis for PostgreSQL (`pix:ledger:backlog:<stream>`; null: no key). */
  ledgerBacklog?: number | null;
  /** Redis's clock when the snapshot was read (`TIME`, Unix milliseconds). */
  redisTimeMs?: number;
}

/** Options of {@link snapshot}. */
export interface SnapshotOptions {
  /** Shown in the header (the password is removed). */
  redisUrl: string;
  stream: string;
  group: string;
  responsePrefix: string;
  idleThresholdMs: number;
  /**
   * Base name of the list designs' queues (`REDIS_LIST`, default `source_list`): `<base>_<i>` and
   * `{<base>_<i>}` are both found, whatever `USE_HASHTAG` is.
   */
  listBase?: string;
  /** State kept between refreshes (discovered keys, known groups); fresh when omitted. */
  state?: SnapshotState;
  /** Finish the `SCAN` pass before reading (for one-off snapshots); default: one step per call. */
  completeScan?: boolean;
  /** Dead letters whose error codes are counted (the most recent ones). Default 200. */
  dlqSample?: number;
  /** Give up and report Redis as unavailable after this long. Default 2000 ms. */
  timeoutMs?: number;
  /** Reads the PostgreSQL ledger's statistics (`undefined`: unavailable); absent: no ledger. */
  ledger?: () => Promise<LedgerStats | undefined>;
}

/** What one refresh remembers for the next: discovered keys and the groups seen. */
export class SnapshotState {
  /** The discovered response streams (`SCAN MATCH <prefix>* TYPE stream`). */
  readonly responses: KeyScanner;
  /** The discovered list designs' lists (`SCAN TYPE list`): queues of `listBase`, processing lists. */
  readonly lists: KeyScanner;
  /** Group names seen last time: their `XINFO CONSUMERS` go in the same pipeline. */
  groups: string[] = [];
  /** Counts every dead letter by error code, when enabled (see {@link SnapshotState} options). */
  readonly dlqCodes: DlqCodeCounter | undefined;
  #lastError: string | null = null;
  #watched = new WeakSet<Redis>();

  /**
   * `scanCount` is the `COUNT` of each `SCAN` step; `dlqCodePage`, when given, turns on the exact
   * count of dead letters by error code, reading that many new dead letters per refresh at most;
   * `listBase` names the list designs' queues (`REDIS_LIST`).
   */
  constructor(
    responsePrefix: string,
    scanCount = 5000,
    options: { dlqCodePage?: number; listBase?: string } = {},
  ) {
    this.dlqCodes = options.dlqCodePage === undefined
      ? undefined
      : new DlqCodeCounter(options.dlqCodePage);
    this.responses = new KeyScanner([{ prefix: responsePrefix, kind: "response" }], {
      count: scanCount,
      type: "stream",
      match: true,
    });
    this.lists = new KeyScanner([
      ...sourceListPrefixes(options.listBase ?? DEFAULT_LIST_BASE).map((prefix) => ({
        prefix,
        kind: "source_list" as const,
      })),
      { prefix: LIST_PROCESSING_PREFIX, kind: "processing_list" },
    ], { count: scanCount, type: "list" });
  }

  /** Remembers the last connection error of `redis`, to say why it is unavailable. */
  watch(redis: Redis): void {
    if (this.#watched.has(redis)) return;
    this.#watched.add(redis);
    redis.on("error", (error: Error) => this.#lastError = errorMessage(error));
    // Until a reconnection attempt fails with a reason, say what is known.
    redis.on("close", () => this.#lastError ??= "Connection closed");
    redis.on("ready", () => this.#lastError = null);
  }

  /** The last connection error, if any. */
  get lastError(): string | null {
    return this.#lastError;
  }
}

type Pipeline = ReturnType<Redis["pipeline"]>;
type Handler = (value: unknown, error: Error | null) => void;

/** Queues commands with a handler each, then runs them as one pipeline. */
class Round {
  readonly pipe: Pipeline;
  #handlers: Handler[] = [];

  constructor(redis: Redis) {
    this.pipe = redis.pipeline();
  }

  add(queue: (pipe: Pipeline) => unknown, handle: Handler): void {
    queue(this.pipe);
    this.#handlers.push(handle);
  }

  get size(): number {
    return this.#handlers.length;
  }

  async run(): Promise<void> {
    if (this.size === 0) return;
    const results = await this.pipe.exec();
    if (results === null) throw new Error("Pipeline was discarded");
    results.forEach(([error, value], i) => {
      // A reply error concerns one key; anything else (a dropped connection) ends the snapshot.
      if (error !== null && error.name !== "ReplyError") throw error;
      this.#handlers[i](value, error);
    });
  }
}

/** Turns `[k1, v1, k2, v2, ...]` into a map. */
function pairs(flat: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (!Array.isArray(flat)) return map;
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

const num = (value: unknown): number => {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};

const entryId = (entry: unknown): string | null =>
  Array.isArray(entry) && typeof entry[0] === "string" ? entry[0] : null;

/** The time part (Unix milliseconds) of a stream entry id. */
export const idTimeMs = (id: string): number => num(id.split("-")[0]);

/** `field:value` lines of `INFO` into a map. */
function infoFields(text: unknown): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of String(text ?? "").split("\r\n")) {
    const at = line.indexOf(":");
    if (at > 0 && !line.startsWith("#")) map.set(line.slice(0, at), line.slice(at + 1));
  }
  return map;
}

const CODE_NAMES = new Map<string, string>(
  Object.entries(ErrorCode).map(([name, code]) => [String(code), name]),
);

/** The most frequent error codes among dead-letter entries, most frequent first. */
export function topErrorCodes(entries: unknown, limit = 5): ErrorCodeCount[] {
  const counts = new Map<string, number>();
  for (const entry of Array.isArray(entries) ? entries : []) {
    const code = String(pairs(Array.isArray(entry) ? entry[1] : []).get("error_code") ?? "none");
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit)
    .map(([code, count]) => ({ code, name: CODE_NAMES.get(code) ?? null, count }));
}

const summaryOf = (v: Record<string, unknown>): LatencySummary => ({
  count: num(v.count),
  p50: num(v.p50),
  p95: num(v.p95),
  p99: num(v.p99),
  max: num(v.max),
  mean: num(v.mean),
});

function parseLatency(hash: unknown): LatencyInfo[] {
  const out: LatencyInfo[] = [];
  const entries = hash instanceof Map ? [...hash] : Object.entries(hash ?? {});
  for (const [consumer, json] of entries) {
    try {
      const v = JSON.parse(String(json));
      const info: LatencyInfo = { consumer, ...summaryOf(v), at: String(v.at ?? "") };
      if (typeof v.window === "object" && v.window !== null) {
        info.window = { seconds: num(v.window.seconds), ...summaryOf(v.window) };
      }
      out.push(info);
    } catch { /* a malformed entry is skipped, not fatal */ }
  }
  return out.sort((a, b) => a.consumer.localeCompare(b.consumer));
}

function totalOf(
  cents: unknown,
  decimal: unknown,
): Pick<Snapshot["counters"], "totalBrl" | "totalSource"> {
  if (typeof cents === "string" && /^-?\d+$/.test(cents)) {
    return { totalBrl: formatCents(BigInt(cents)), totalSource: "total_amount_cents" };
  }
  if (typeof decimal === "string") {
    // The Python original keeps only `total_amount` (INCRBYFLOAT): show it exactly as stored.
    const parsed = parseAmountCents(decimal);
    return {
      totalBrl: parsed === undefined ? decimal : formatCents(parsed),
      totalSource: "total_amount",
    };
  }
  return { totalBrl: "0.00", totalSource: "none" };
}

function emptySnapshot(options: SnapshotOptions): Snapshot {
  return {
    at: new Date().toISOString(),
    redisUrl: redactUrl(options.redisUrl),
    stream: options.stream,
    group: options.group,
    idleThresholdMs: options.idleThresholdMs,
    available: true,
    error: null,
    server: null,
    counters: { processed: 0, totalBrl: "0.00", totalSource: "none" },
    streamInfo: null,
    groups: [],
    processor: {
      groupExists: false,
      pending: 0,
      lag: null,
      consumers: 0,
      activeConsumers: 0,
      stalledConsumers: 0,
    },
    responses: { prefix: options.responsePrefix, streams: [], totalLength: 0, scanComplete: false },
    dlq: { key: dlqKey(options.stream), length: 0, sampled: 0, topCodes: [] },
    latency: [],
    lists: [],
    notes: [],
    rounds: 0,
    durationMs: 0,
  };
}

const isMissing = (error: Error | null) => error !== null && /no such key/i.test(error.message);

function parseConsumers(reply: unknown, idleThresholdMs: number): ConsumerInfo[] {
  return (Array.isArray(reply) ? reply : []).map((flat) => {
    const c = pairs(flat);
    const pending = num(c.get("pending"));
    const idleMs = num(c.get("idle"));
    return {
      name: String(c.get("name")),
      pending,
      idleMs,
      stalled: pending > 0 && idleMs > idleThresholdMs,
    };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Reads one snapshot. Never throws: when Redis does not answer (down, or slower than `timeoutMs`),
 * `available` is false and `error` says why. Pass the same `state` to every refresh so discovered
 * keys and groups carry over and a refresh stays one pipelined round.
 */
export async function snapshot(redis: Redis, options: SnapshotOptions): Promise<Snapshot> {
  const started = performance.now();
  const state = options.state ??
    new SnapshotState(options.responsePrefix, undefined, { listBase: options.listBase });
  state.watch(redis);
  const timeoutMs = options.timeoutMs ?? 2000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const snap = await Promise.race([
      read(redis, state, options),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    if (options.ledger) snap.ledger = await options.ledger().catch(() => undefined);
    snap.durationMs = performance.now() - started;
    return snap;
  } catch (error) {
    const down = redis.status !== "ready" && state.lastError !== null;
    return {
      ...emptySnapshot(options),
      available: false,
      error: down ? state.lastError : errorMessage(error),
      durationMs: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

async function read(
  redis: Redis,
  state: SnapshotState,
  options: SnapshotOptions,
): Promise<Snapshot> {
  if (redis.status === "wait") await redis.connect();
  if (redis.status !== "ready") {
    throw new Error(state.lastError ?? `Connection is ${redis.status}`);
  }
  const snap = emptySnapshot(options);
  const scanners = [state.responses, state.lists];
  const { stream } = options;
  if (options.completeScan) {
    for (const scanner of scanners) {
      const target = scanner.passes + 1;
      while (scanner.passes < target) {
        scanner.apply(await redis.call("SCAN", ...scanner.args()) as [string, string[]]);
        snap.rounds++;
      }
    }
  }

  const round = new Round(redis);
  if (!options.completeScan) {
    for (const scanner of scanners) {
      const args = scanner.args();
      round.add((p) => p.call("SCAN", ...args), (v) => scanner.apply(v as [string, string[]]));
    }
  }
  round.add((p) => p.time(), (v) => {
    const [seconds, micros] = Array.isArray(v) ? v : [];
    snap.redisTimeMs = num(seconds) * 1000 + Math.floor(num(micros) / 1000);
  });
  round.add((p) => p.info("server"), (v) => {
    const info = infoFields(v);
    snap.server = {
      version: info.get("redis_version") ?? "?",
      uptimeSeconds: num(info.get("uptime_in_seconds")),
      usedMemoryBytes: 0,
    };
  });
  round.add((p) => p.info("memory"), (v) => {
    if (snap.server) snap.server.usedMemoryBytes = num(infoFields(v).get("used_memory"));
  });
  round.add((p) => p.mget(PROCESSED_COUNT_KEY, TOTAL_AMOUNT_CENTS_KEY, TOTAL_AMOUNT_KEY), (v) => {
    const [processed, cents, decimal] = v as (string | null)[];
    snap.counters = { processed: num(processed), ...totalOf(cents, decimal) };
  });
  round.add((p) => p.xinfo("STREAM", stream), (v, error) => {
    if (error !== null) {
      if (!isMissing(error)) snap.notes.push(`Cannot read stream ${stream}: ${error.message}`);
      return;
    }
    const info = pairs(v);
    snap.streamInfo = {
      length: num(info.get("length")),
      lastGeneratedId: String(info.get("last-generated-id") ?? "0-0"),
      firstEntryId: entryId(info.get("first-entry")),
      lastEntryId: entryId(info.get("last-entry")),
      entriesAdded: num(info.get("entries-added")),
      memoryBytes: null,
    };
  });
  round.add((p) => p.memory("USAGE", stream), (v) => {
    if (snap.streamInfo && v !== null && v !== undefined) snap.streamInfo.memoryBytes = num(v);
  });
  round.add((p) => p.xinfo("GROUPS", stream), (v) => {
    snap.groups = (Array.isArray(v) ? v : []).map((flat) => {
      const g = pairs(flat);
      const lag = g.get("lag");
      const entriesRead = g.get("entries-read");
      return {
        name: String(g.get("name")),
        pending: num(g.get("pending")),
        lastDeliveredId: String(g.get("last-delivered-id") ?? "0-0"),
        entriesRead: entriesRead === null || entriesRead === undefined ? null : num(entriesRead),
        lag: lag === null || lag === undefined ? null : num(lag),
        consumers: [],
      };
    }).sort((a, b) => a.name.localeCompare(b.name));
  });
  const consumersOf = new Map<string, ConsumerInfo[]>();
  const oldestOf = new Map<string, [string, string, number, number] | null>();
  const queueConsumers = (r: Round, group: string) => {
    r.add((p) => p.xinfo("CONSUMERS", stream, group), (v, error) => {
      if (error === null) consumersOf.set(group, parseConsumers(v, options.idleThresholdMs));
    });
    r.add((p) => p.xpending(stream, group, "-", "+", 1), (v, error) => {
      if (error !== null) return;
      const first = Array.isArray(v) && Array.isArray(v[0]) ? v[0] : null;
      oldestOf.set(
        group,
        first === null ? null : [String(first[0]), String(first[1]), num(first[2]), num(first[3])],
      );
    });
  };
  for (const group of state.groups) queueConsumers(round, group);
  const dlq = snap.dlq.key;
  round.add((p) => p.xlen(dlq), (v) => snap.dlq.length = num(v));
  if (state.dlqCodes) {
    const counter = state.dlqCodes;
    const [range, info] = counter.commands(dlq);
    let page: unknown = [];
    round.add((p) => p.call(...range), (v) => page = v);
    round.add((p) => p.call(...info), (v, error) => {
      const fields = error === null ? pairs(v) : undefined;
      if (error !== null && !isMissing(error)) return;
      counter.apply(
        page,
        fields && {
          length: num(fields.get("length")),
          entriesAdded: fields.has("entries-added") ? num(fields.get("entries-added")) : null,
        },
      );
      snap.dlq.entriesAdded = fields ? num(fields.get("entries-added")) : 0;
      const codes = counter.codes();
      if (codes) snap.dlq.codes = codes;
    });
  }
  round.add((p) => p.get(ledgerBacklogKey(stream)), (v, error) => {
    if (error === null) snap.ledgerBacklog = v === null || v === undefined ? null : num(v);
  });
  round.add((p) => p.xrevrange(dlq, "+", "-", "COUNT", options.dlqSample ?? 200), (v) => {
    snap.dlq.sampled = Array.isArray(v) ? v.length : 0;
    snap.dlq.topCodes = topErrorCodes(v);
  });
  round.add((p) => p.hgetall(LATENCY_KEY), (v) => snap.latency = parseLatency(v));
  // Read now: the keys known before this round's SCAN steps (what they find is read next time).
  snap.responses.scanComplete = state.responses.complete;
  for (const key of state.responses.keys("response")) {
    round.add((p) => p.xinfo("STREAM", key), (v, error) => {
      if (error !== null) return state.responses.forget(key);
      const info = pairs(v);
      const length = num(info.get("length"));
      snap.responses.streams.push({
        key,
        backendId: key.slice(options.responsePrefix.length),
        length,
        lastId: String(info.get("last-generated-id") ?? "0-0"),
      });
      snap.responses.totalLength += length;
    });
  }
  for (const kind of ["source_list", "processing_list"] as const) {
    for (const key of state.lists.keys(kind)) {
      round.add((p) => p.llen(key), (v, error) => {
        if (error !== null) return state.lists.forget(key);
        snap.lists.push({ key, kind, length: num(v) });
      });
    }
  }
  await round.run();
  snap.rounds++;

  // A group seen for the first time: its consumers take one more round (only when groups change).
  const newGroups = snap.groups.filter((g) => !consumersOf.has(g.name));
  if (newGroups.length > 0) {
    const more = new Round(redis);
    for (const g of newGroups) queueConsumers(more, g.name);
    await more.run();
    snap.rounds++;
  }
  state.groups = snap.groups.map((g) => g.name);
  const now = snap.redisTimeMs ?? Date.now();
  for (const g of snap.groups) {
    g.consumers = consumersOf.get(g.name) ?? [];
    const oldest = oldestOf.get(g.name);
    if (oldest === null || g.pending === 0) g.oldestPending = null;
    else if (oldest !== undefined) {
      const [id, consumer, idleMs, deliveries] = oldest;
      g.oldestPending = {
        id,
        consumer,
        ageMs: Math.max(0, now - idTimeMs(id)),
        idleMs,
        deliveries,
      };
    }
  }

  const mine = snap.groups.find((g) => g.name === options.group);
  if (mine) {
    snap.processor = {
      groupExists: true,
      pending: mine.pending,
      lag: mine.lag,
      consumers: mine.consumers.length,
      activeConsumers: mine.consumers.filter((c) => c.idleMs <= options.idleThresholdMs).length,
      stalledConsumers: mine.consumers.filter((c) => c.stalled).length,
    };
  }
  return snap;
}
