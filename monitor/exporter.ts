/**
 * The queue exporter: the monitor's snapshot served as Prometheus metrics (`fastpix_queue_*`, text
 * format 0.0.4) on `/metrics`, with `/healthz`. A scrape refreshes the snapshot (one pipelined
 * round), unless the last one is younger than the refresh interval: then it is served again, and
 * scrapes that arrive while a refresh is in flight wait for that refresh. A scrape storm costs at
 * most one round per interval.
 *
 * Labels stay bounded: no transaction id ever; response streams are the `top` longest one by one
 * plus a `(other)` sum; consumers, lists and latency windows are capped at `maxSeries` each
 * (stalled consumers first); unknown dead-letter codes are counted as `other`.
 * @module
 */
import { createRedis, type Logger, type Redis } from "@fastpix/infra";
import { parseAmountCents } from "@fastpix/pix";
import {
  type ConsumerInfo,
  idTimeMs,
  type Snapshot,
  snapshot,
  type SnapshotOptions,
  SnapshotState,
} from "./snapshot.ts";

/** How the snapshot is turned into series. */
export interface MetricsSettings {
  /** Response streams exported one by one (the longest); the rest are summed as `(other)`. */
  top: number;
  /** Most series per group of consumers, of lists and of latency windows. */
  maxSeries: number;
  /** The consumers' ledger backlog cap (`LEDGER_MAX_BACKLOG`), exported when known. */
  ledgerMaxBacklog?: number;
  /** Latency windows published longer ago than this are left out (their consumer is gone). */
  latencyMaxAgeMs: number;
}

/** Defaults of {@link MetricsSettings}. */
export const METRICS_DEFAULTS: MetricsSettings = {
  top: 10,
  maxSeries: 100,
  latencyMaxAgeMs: 60_000,
};

/** The exporter's own counters, exported beside the snapshot. */
export interface ExporterStats {
  /** Snapshots read since start. */
  refreshes: number;
}

/** The label a response stream beyond the `top` is summed under. */
export const OTHER_BACKEND = "(other)";

/** Escapes a label value (backslash, double quote, newline). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

const formatValue = (value: number): string =>
  Number.isFinite(value)
    ? String(value)
    : Number.isNaN(value)
    ? "NaN"
    : value > 0
    ? "+Inf"
    : "-Inf";

/** Builds a page: families declared once, in order, with their samples. */
class Page {
  #lines: string[] = [];

  family(name: string, type: "gauge" | "counter", help: string): (
    value: number,
    labels?: Record<string, string>,
  ) => void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return (value, labels = {}) => {
      const entries = Object.entries(labels);
      const text = entries.length === 0
        ? ""
        : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
      this.#lines.push(`${name}${text} ${formatValue(value)}`);
    };
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/** Milliseconds as seconds, to the microsecond. */
const seconds = (ms: number) => Math.round(ms * 1000) / 1_000_000;

/** Consumers worth a series first: stalled, then holding the most, then the most recently seen. */
function byConcern(a: ConsumerInfo, b: ConsumerInfo): number {
  return Number(b.stalled) - Number(a.stalled) || b.pending - a.pending || a.idleMs - b.idleMs ||
    a.name.localeCompare(b.name);
}

/** The total amount in cents (0 when there is none or it cannot be read). */
function totalCents(snap: Snapshot): number {
  const text = snap.counters.totalBrl;
  const negative = text.startsWith("-");
  const cents = parseAmountCents(negative ? text.slice(1) : text);
  return cents === undefined ? 0 : negative ? -cents : cents;
}

/**
 * Renders `snap` as the exporter's page. When Redis did not answer, only the exporter's own series
 * are given (`fastpix_queue_up 0`): the last numbers are never served as if they were current.
 */
export function renderQueueMetrics(
  snap: Snapshot,
  stats: ExporterStats,
  settings: MetricsSettings = METRICS_DEFAULTS,
  nowMs = Date.now(),
): string {
  const page = new Page();
  page.family(
    "fastpix_queue_exporter_info",
    "gauge",
    "The stream and consumer group this exporter watches (value 1).",
  )(1, { stream: snap.stream, group: snap.group });
  page.family("fastpix_queue_up", "gauge", "1 when Redis answered the last refresh, else 0.")(
    snap.available ? 1 : 0,
  );
  page.family("fastpix_queue_refreshes_total", "counter", "Snapshots read from Redis.")(
    stats.refreshes,
  );
  page.family(
    "fastpix_queue_refresh_duration_seconds",
    "gauge",
    "How long the last refresh took.",
  )(seconds(snap.durationMs));
  page.family(
    "fastpix_queue_refresh_timestamp_seconds",
    "gauge",
    "When the served snapshot was read (Unix time).",
  )(seconds(Date.parse(snap.at)));
  page.family(
    "fastpix_queue_idle_threshold_seconds",
    "gauge",
    "IDLE_THRESHOLD_MS: idle time past which a consumer holding entries is stalled.",
  )(seconds(snap.idleThresholdMs));
  if (settings.ledgerMaxBacklog !== undefined) {
    page.family(
      "fastpix_queue_ledger_backlog_max_rows",
      "gauge",
      "LEDGER_MAX_BACKLOG: ledger rows that may wait in Redis before consumers pause.",
    )(settings.ledgerMaxBacklog);
  }
  if (!snap.available) return page.text();
  const now = snap.redisTimeMs ?? nowMs;

  if (snap.server) {
    page.family("fastpix_queue_redis_memory_used_bytes", "gauge", "Redis used_memory.")(
      snap.server.usedMemoryBytes,
    );
  }

  const s = snap.streamInfo;
  page.family(
    "fastpix_queue_stream_length_entries",
    "gauge",
    "Entries in the payment stream (0 when it does not exist).",
  )(s?.length ?? 0);
  page.family(
    "fastpix_queue_stream_entries_added_total",
    "counter",
    "Entries ever added to the payment stream (entries-added).",
  )(s?.entriesAdded ?? 0);
  if (s?.memoryBytes !== null && s?.memoryBytes !== undefined) {
    page.family("fastpix_queue_stream_memory_bytes", "gauge", "MEMORY USAGE of the stream.")(
      s.memoryBytes,
    );
  }
  if (s && s.entriesAdded > 0) {
    page.family(
      "fastpix_queue_stream_last_entry_age_seconds",
      "gauge",
      "Time since the stream's last-generated-id (the last payment enqueued), by Redis's clock.",
    )(seconds(Math.max(0, now - idTimeMs(s.lastGeneratedId))));
  }

  const lag = page.family(
    "fastpix_queue_group_lag_entries",
    "gauge",
    "Entries not yet delivered to the group (absent when Redis cannot tell).",
  );
  for (const g of snap.groups) if (g.lag !== null) lag(g.lag, { group: g.name });
  const pending = page.family(
    "fastpix_queue_group_pending_entries",
    "gauge",
    "Entries delivered to the group and not acknowledged.",
  );
  for (const g of snap.groups) pending(g.pending, { group: g.name });
  const oldestAge = page.family(
    "fastpix_queue_group_oldest_pending_age_seconds",
    "gauge",
    "Time since the oldest pending entry was enqueued (0 when none is pending).",
  );
  const oldestIdle = page.family(
    "fastpix_queue_group_oldest_pending_idle_seconds",
    "gauge",
    "Time since the oldest pending entry was last delivered (0 when none is pending).",
  );
  for (const g of snap.groups) {
    if (g.oldestPending === undefined) continue;
    oldestAge(seconds(g.oldestPending?.ageMs ?? 0), { group: g.name });
    oldestIdle(seconds(g.oldestPending?.idleMs ?? 0), { group: g.name });
  }
  const consumers = page.family(
    "fastpix_queue_group_consumers",
    "gauge",
    "Consumers of the group by state: active (idle up to the threshold), stalled (idle longer " +
      "while holding pending entries), idle (idle longer, holding nothing).",
  );
  for (const g of snap.groups) {
    const active = g.consumers.filter((c) => c.idleMs <= snap.idleThresholdMs).length;
    const stalled = g.consumers.filter((c) => c.stalled).length;
    consumers(active, { group: g.name, state: "active" });
    consumers(stalled, { group: g.name, state: "stalled" });
    consumers(g.consumers.length - active - stalled, { group: g.name, state: "idle" });
  }
  const cPending = page.family(
    "fastpix_queue_consumer_pending_entries",
    "gauge",
    "Entries delivered to the consumer and not acknowledged.",
  );
  const cIdle = page.family(
    "fastpix_queue_consumer_idle_seconds",
    "gauge",
    "Time since the consumer last talked to its group.",
  );
  const cStalled = page.family(
    "fastpix_queue_consumer_stalled",
    "gauge",
    "1 when the consumer holds pending entries and is idle past the threshold.",
  );
  for (const g of snap.groups) {
    for (const c of [...g.consumers].sort(byConcern).slice(0, settings.maxSeries)) {
      const labels = { group: g.name, consumer: c.name };
      cPending(c.pending, labels);
      cIdle(seconds(c.idleMs), labels);
      cStalled(c.stalled ? 1 : 0, labels);
    }
  }

  page.family("fastpix_queue_dlq_length_entries", "gauge", "Dead letters (XLEN of the DLQ).")(
    snap.dlq.length,
  );
  if (snap.dlq.entriesAdded !== undefined) {
    page.family(
      "fastpix_queue_dlq_entries_added_total",
      "counter",
      "Dead letters ever added (entries-added of the DLQ; replays and purges do not lower it).",
    )(snap.dlq.entriesAdded);
  }
  if (snap.dlq.codes !== undefined) {
    const byCode = page.family(
      "fastpix_queue_dlq_code_entries",
      "gauge",
      "Dead letters by error code (every one counted; other: a code that is not ours, none: no " +
        "code).",
    );
    for (const c of snap.dlq.codes) byCode(c.count, { code: c.code, name: c.name ?? c.code });
  }

  const streams = [...snap.responses.streams].sort((a, b) =>
    b.length - a.length || a.backendId.localeCompare(b.backendId)
  );
  page.family(
    "fastpix_queue_response_streams",
    "gauge",
    "Backends' response streams found so far.",
  )(streams.length);
  page.family(
    "fastpix_queue_response_streams_length_entries",
    "gauge",
    "Entries in all response streams.",
  )(snap.responses.totalLength);
  const response = page.family(
    "fastpix_queue_response_stream_length_entries",
    "gauge",
    `Entries in the longest response streams, one by one; backend="${OTHER_BACKEND}" sums the rest.`,
  );
  const shown = streams.slice(0, settings.top).filter((r) => r.backendId !== OTHER_BACKEND);
  for (const r of shown) response(r.length, { backend: r.backendId });
  response(
    snap.responses.totalLength - shown.reduce((n, r) => n + r.length, 0),
    { backend: OTHER_BACKEND },
  );

  const kinds = ["source_list", "processing_list"] as const;
  const listCount = page.family("fastpix_queue_lists", "gauge", "List designs' lists by kind.");
  const listTotal = page.family(
    "fastpix_queue_lists_length_entries",
    "gauge",
    "Entries in the list designs' lists, by kind.",
  );
  for (const kind of kinds) {
    const of = snap.lists.filter((l) => l.kind === kind);
    listCount(of.length, { kind });
    listTotal(of.reduce((n, l) => n + l.length, 0), { kind });
  }
  const list = page.family(
    "fastpix_queue_list_length_entries",
    "gauge",
    "Entries in each list design's list (the longest ones).",
  );
  const lists = [...snap.lists].sort((a, b) => b.length - a.length || a.key.localeCompare(b.key));
  for (const l of lists.slice(0, settings.maxSeries)) list(l.length, { key: l.key, kind: l.kind });

  if (snap.ledgerBacklog !== undefined && snap.ledgerBacklog !== null) {
    page.family(
      "fastpix_queue_ledger_backlog_rows",
      "gauge",
      "Ledger rows waiting in Redis for PostgreSQL.",
    )(snap.ledgerBacklog);
  }

  page.family(
    "fastpix_queue_processed_payments_total",
    "counter",
    "Payments processed (processed_count).",
  )(snap.counters.processed);
  page.family(
    "fastpix_queue_processed_amount_cents_total",
    "counter",
    "Amount of the processed payments, in cents (total_amount_cents).",
  )(totalCents(snap));

  const fresh = snap.latency.filter((l) => {
    const at = Date.parse(l.at);
    return l.window !== undefined && (Number.isNaN(at) || nowMs - at <= settings.latencyMaxAgeMs);
  }).slice(0, settings.maxSeries);
  const quantile = page.family(
    "fastpix_queue_consumer_latency_window_seconds",
    "gauge",
    "Enqueue-to-confirmation latency over the consumer's last window (10 s), by quantile " +
      "(quantile 1: the maximum).",
  );
  const windowCount = page.family(
    "fastpix_queue_consumer_latency_window_payments",
    "gauge",
    "Payments confirmed in the consumer's last latency window.",
  );
  for (const l of fresh) {
    const w = l.window!;
    windowCount(w.count, { consumer: l.consumer });
    if (w.count === 0) continue;
    for (const [q, ms] of [["0.5", w.p50], ["0.95", w.p95], ["0.99", w.p99], ["1", w.max]]) {
      quantile(seconds(Number(ms)), { consumer: l.consumer, quantile: String(q) });
    }
  }
  return page.text();
}

/** Options of {@link QueueExporter}. */
export interface QueueExporterOptions
  extends Omit<SnapshotOptions, "state" | "completeScan" | "timeoutMs"> {
  /** Scrapes closer together than this are served the last snapshot. */
  intervalMs: number;
  /** `COUNT` of each `SCAN` step. */
  scanCount: number;
  /** Dead letters read per refresh at most while counting them by code. Default 10,000. */
  dlqCodePage?: number;
  metrics?: Partial<MetricsSettings>;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Reads snapshots for scrapes, at most one round per interval, and renders them. */
export class QueueExporter {
  readonly #redis: Redis;
  readonly #options: QueueExporterOptions;
  readonly #state: SnapshotState;
  readonly #settings: MetricsSettings;
  #last: { snap: Snapshot; at: number } | undefined;
  #inflight: Promise<Snapshot> | undefined;
  #refreshes = 0;

  constructor(options: QueueExporterOptions, redis?: Redis) {
    this.#options = options;
    this.#redis = redis ?? createRedis(options.redisUrl, {
      name: "fastpix-exporter",
      failFast: true,
      logger: SILENT,
    });
    this.#state = new SnapshotState(options.responsePrefix, options.scanCount, {
      dlqCodePage: options.dlqCodePage ?? 10_000,
      listBase: options.listBase,
    });
    this.#settings = { ...METRICS_DEFAULTS, ...options.metrics };
  }

  /** Snapshots read so far. */
  get refreshes(): number {
    return this.#refreshes;
  }

  /** The last snapshot read, if any. */
  get last(): Snapshot | undefined {
    return this.#last?.snap;
  }

  /** The current snapshot: the last one if it is younger than the interval, else a new one. */
  current(): Promise<Snapshot> {
    const last = this.#last;
    if (last !== undefined && performance.now() - last.at < this.#options.intervalMs) {
      return Promise.resolve(last.snap);
    }
    this.#inflight ??= this.#refresh().finally(() => this.#inflight = undefined);
    return this.#inflight;
  }

  async #refresh(): Promise<Snapshot> {
    const state = this.#state;
    // Until the first SCAN pass is done, a refresh finishes it (as `--once` does), with time for
    // a large keyspace; afterwards each refresh takes one step, as the live screen does.
    const discovering = !state.responses.complete || !state.lists.complete;
    const snap = await snapshot(this.#redis, {
      ...this.#options,
      state,
      completeScan: discovering,
      timeoutMs: discovering ? 30_000 : 2000,
    });
    this.#refreshes++;
    this.#last = { snap, at: performance.now() };
    return snap;
  }

  /** The metrics page for one scrape. */
  async metrics(): Promise<string> {
    const snap = await this.current();
    return renderQueueMetrics(snap, { refreshes: this.#refreshes }, this.#settings);
  }

  close(): void {
    this.#redis.disconnect();
  }
}

/** A running exporter's HTTP server. */
export interface RunningExporter {
  exporter: QueueExporter;
  url: string;
  port: number;
  /** Stops serving and closes the Redis connection. */
  stop(): Promise<void>;
}

/** Options of {@link serveExporter}. */
export interface ServeExporterOptions extends QueueExporterOptions {
  port: number;
  hostname: string;
}

const TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";

/** Serves `/metrics` and `/healthz`; the first snapshot is read at once, before any scrape. */
export function serveExporter(options: ServeExporterOptions): Promise<RunningExporter> {
  const exporter = new QueueExporter(options);
  const warm = exporter.current();
  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (pathname === "/metrics") {
      return new Response(await exporter.metrics(), { headers: { "content-type": TEXT_FORMAT } });
    }
    if (pathname === "/healthz") {
      // The exporter is alive; whether Redis answers is a metric (fastpix_queue_up), not a failure.
      const last = exporter.last;
      const redis = last === undefined ? "unknown" : last.available ? "up" : "down";
      return Response.json({ status: "ok", redis, refreshes: exporter.refreshes });
    }
    return new Response("not found: try /metrics or /healthz\n", { status: 404 });
  };
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        port: options.port,
        hostname: options.hostname,
        onListen: () => {},
      }, handler);
      const port = server.addr.port;
      const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
      resolve({
        exporter,
        port,
        url: `http://${host}:${port}`,
        async stop() {
          await server.shutdown();
          await warm.catch(() => {});
          exporter.close();
        },
      });
    } catch (error) {
      exporter.close();
      reject(error);
    }
  });
}
