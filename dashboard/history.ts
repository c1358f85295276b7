/**
 * The charts' memory: one point per refresh (throughput, latency, lag and pending), the last
 * `capacity` of them, with the rates derived from the counters of two refreshes in a row.
 * @module
 */

/** One instant of the charts. `null`: not known then (Redis down, no consumer publishing). */
export interface HistoryPoint {
  /** Unix time, seconds (uPlot's x axis). */
  t: number;
  /** Payments added to the stream per second since the previous point. */
  enqueued: number | null;
  /** Payments confirmed (`processed_count`) per second since the previous point. */
  confirmed: number | null;
  /** Enqueue-to-confirmation latency p50 over the consumers' last window, ms. */
  p50: number | null;
  /** Enqueue-to-confirmation latency p99 over the consumers' last window, ms. */
  p99: number | null;
  /** The configured group's entries not yet delivered. */
  lag: number | null;
  /** The configured group's entries delivered and not yet acknowledged. */
  pending: number | null;
  /** Dead letters waiting. */
  deadLetters: number | null;
}

/** What a refresh read that the charts need. */
export interface Sample {
  atMs: number;
  available: boolean;
  /** `processed_count`. */
  processed: number;
  /** The stream's `entries-added` (null: no stream). */
  entriesAdded: number | null;
  p50: number | null;
  p99: number | null;
  lag: number | null;
  pending: number | null;
  deadLetters: number | null;
}

/** A counter's change per second; null without a previous value or when it went down (reset). */
function perSecond(now: number | null, before: number | null, seconds: number): number | null {
  if (now === null || before === null || seconds <= 0 || now < before) return null;
  return (now - before) / seconds;
}

/** The last `capacity` points, oldest first. */
export class History {
  #points: HistoryPoint[] = [];
  #previous: Sample | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError("capacity below 2");
  }

  /** Adds the point of one refresh and returns it. */
  add(sample: Sample): HistoryPoint {
    const before = this.#previous?.available ? this.#previous : undefined;
    const seconds = before ? (sample.atMs - before.atMs) / 1000 : 0;
    const point: HistoryPoint = sample.available
      ? {
        t: sample.atMs / 1000,
        enqueued: perSecond(sample.entriesAdded, before?.entriesAdded ?? null, seconds),
        confirmed: perSecond(sample.processed, before?.processed ?? null, seconds),
        p50: sample.p50,
        p99: sample.p99,
        lag: sample.lag,
        pending: sample.pending,
        deadLetters: sample.deadLetters,
      }
      : {
        t: sample.atMs / 1000,
        enqueued: null,
        confirmed: null,
        p50: null,
        p99: null,
        lag: null,
        pending: null,
        deadLetters: null,
      };
    this.#previous = sample;
    this.#points.push(point);
    if (this.#points.length > this.capacity) this.#points.shift();
    return point;
  }

  /** Every point kept, oldest first. */
  points(): HistoryPoint[] {
    return [...this.#points];
  }
}
