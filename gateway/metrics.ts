/**
 * The gateway's counters and its `/metrics` page in the Prometheus text format (version 0.0.4):
 * requests by route and status, a request latency histogram, enqueue batches and errors, queue
 * depth per design. Counting is a few additions per request; the text is built on scrape.
 * @module
 */

/** Upper bounds (seconds) of the request latency histogram's buckets. */
export const LATENCY_BUCKETS_S = [
  0.0005,
  0.001,
  0.002,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
] as const; // deno-fmt-ignore

/** The routes requests are counted under (anything else is `other`). */
export const ROUTES = ["/pix/payments", "/health", "/metrics", "other"] as const;

/** One of {@link ROUTES}. */
export type Route = typeof ROUTES[number];

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

interface DesignCounters {
  enqueued: number;
  batches: number;
  errors: number;
}

/** Gauges read at scrape time. */
export interface ScrapeState {
  /** Payments waiting in each design's queue (designs whose depth could not be read are left out). */
  queueDepth: Map<string, number>;
  redisUp: boolean;
  waitingConfirmations: number;
  /** Confirmation streams (backends) the wait=true reader watches now. */
  watchedStreams?: number;
}

/** Why a request was turned away with 503 before anything was enqueued. */
export type Refusal = "waiters" | "watched_backends" | "queue_lag";

/** Counters of one gateway process. */
export class GatewayMetrics {
  #requests = new Map<string, number>();
  #latency = new Map<Route, Histogram>();
  #designs = new Map<string, DesignCounters>();
  #confirmationTimeouts = 0;
  #refused = new Map<Refusal, number>();

  /** Counts one answered request and its duration. */
  observe(route: Route, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#latency.get(route);
    if (h === undefined) {
      h = { buckets: new Array(LATENCY_BUCKETS_S.length).fill(0), sum: 0, count: 0 };
      this.#latency.set(route, h);
    }
    let i = 0;
    while (i < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[i]) i++;
    if (i < LATENCY_BUCKETS_S.length) h.buckets[i]++;
    h.sum += seconds;
    h.count++;
  }

  /** Counts one enqueue call of `size` payments for `design`. */
  batch(design: string, size: number, failed: boolean): void {
    let d = this.#designs.get(design);
    if (d === undefined) this.#designs.set(design, d = { enqueued: 0, batches: 0, errors: 0 });
    d.batches++;
    if (failed) d.errors += size;
    else d.enqueued += size;
  }

  /** Counts a `wait=true` request that gave up. */
  confirmationTimeout(): void {
    this.#confirmationTimeouts++;
  }

  /** Counts a request turned away by a bound (answered 503). */
  refused(reason: Refusal): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
  }

  /** Payments enqueued so far for `design`. */
  enqueued(design: string): number {
    return this.#designs.get(design)?.enqueued ?? 0;
  }

  /** The Prometheus text page. */
  render(state: ScrapeState): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family("fastpix_gateway_info", "gauge", "This gateway process (several may share a port).");
    out.push(`fastpix_gateway_info{pid="${Deno.pid}"} 1`);

    family("fastpix_gateway_requests_total", "counter", "HTTP requests answered.");
    for (const [key, n] of this.#requests) {
      const [route, status] = key.split(" ");
      out.push(`fastpix_gateway_requests_total{route="${route}",status="${status}"} ${n}`);
    }

    const hist = "fastpix_gateway_request_duration_seconds";
    family(hist, "histogram", "Time from request to response.");
    for (const [route, h] of this.#latency) {
      let cumulative = 0;
      LATENCY_BUCKETS_S.forEach((le, i) => {
        cumulative += h.buckets[i];
        out.push(`${hist}_bucket{route="${route}",le="${le}"} ${cumulative}`);
      });
      out.push(`${hist}_bucket{route="${route}",le="+Inf"} ${h.count}`);
      out.push(`${hist}_sum{route="${route}"} ${h.sum}`);
      out.push(`${hist}_count{route="${route}"} ${h.count}`);
    }

    const perDesign = (name: string, help: string, pick: (d: DesignCounters) => number) => {
      family(name, "counter", help);
      for (const [design, d] of this.#designs) out.push(`${name}{design="${design}"} ${pick(d)}`);
    };
    perDesign("fastpix_gateway_enqueued_payments_total", "Payments enqueued.", (d) => d.enqueued);
    perDesign(
      "fastpix_gateway_enqueue_batches_total",
      "Enqueue calls (batches).",
      (d) => d.batches,
    );
    perDesign(
      "fastpix_gateway_enqueue_errors_total",
      "Payments whose enqueue failed (answered 503).",
      (d) => d.errors,
    );

    family(
      "fastpix_gateway_confirmation_timeouts_total",
      "counter",
      "wait=true requests answered 504.",
    );
    out.push(`fastpix_gateway_confirmation_timeouts_total ${this.#confirmationTimeouts}`);
    family("fastpix_gateway_waiting_confirmations", "gauge", "wait=true requests waiting now.");
    out.push(`fastpix_gateway_waiting_confirmations ${state.waitingConfirmations}`);
    family(
      "fastpix_gateway_watched_streams",
      "gauge",
      "Confirmation streams (backends) the wait=true reader watches now.",
    );
    out.push(`fastpix_gateway_watched_streams ${state.watchedStreams ?? 0}`);
    family(
      "fastpix_gateway_refused_total",
      "counter",
      "Requests answered 503 by a bound (MAX_WAITERS, MAX_WATCHED_BACKENDS, MAX_QUEUE_LAG).",
    );
    for (const [reason, n] of this.#refused) {
      out.push(`fastpix_gateway_refused_total{reason="${reason}"} ${n}`);
    }
    const memory = Deno.memoryUsage();
    family("process_resident_memory_bytes", "gauge", "Resident memory of this process.");
    out.push(`process_resident_memory_bytes ${memory.rss}`);
    family("fastpix_gateway_heap_bytes", "gauge", "JavaScript heap: used, and reserved.");
    out.push(`fastpix_gateway_heap_bytes{kind="used"} ${memory.heapUsed}`);
    out.push(`fastpix_gateway_heap_bytes{kind="total"} ${memory.heapTotal}`);
    out.push(`fastpix_gateway_heap_bytes{kind="external"} ${memory.external}`);
    family("fastpix_gateway_redis_up", "gauge", "1 when Redis answered this scrape.");
    out.push(`fastpix_gateway_redis_up ${state.redisUp ? 1 : 0}`);
    family("fastpix_gateway_queue_depth", "gauge", "Payments waiting in the design's queue.");
    for (const [design, depth] of state.queueDepth) {
      out.push(`fastpix_gateway_queue_depth{design="${design}"} ${depth}`);
    }
    return out.join("\n") + "\n";
  }
}
