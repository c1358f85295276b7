/**
 * Latency histograms (HDR, microsecond resolution, 3 significant digits) and their summary in ms,
 * since start or over a sliding window (a ring of 1-second histograms).
 * @module
 */
import * as hdr from "hdr-histogram-js";

/** A latency histogram recording microseconds. */
export type LatencyHistogram = hdr.Histogram;

/** Percentiles of a latency histogram, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Creates a histogram for latencies from 1 µs to 10 min. */
export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records a latency given in milliseconds (fractional allowed); values are clamped to the range. */
export function recordMs(histogram: LatencyHistogram, ms: number): void {
  histogram.recordValue(Math.min(600_000_000, Math.max(1, Math.round(ms * 1000))));
}

const toMs = (micros: number) => Math.round(micros) / 1000;

/**
 * Summarises a histogram in milliseconds. HDR percentiles are the top of their bucket, which can
 * lie above the largest value recorded (`p99 174.463` with `max 174.41`): every figure is clamped
 * to the recorded [min, max].
 */
export function summarize(histogram: LatencyHistogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const min = histogram.minNonZeroValue;
  const max = histogram.maxValue;
  const clamp = (micros: number) => toMs(Math.min(max, Math.max(min, micros)));
  return {
    count,
    p50: clamp(histogram.getValueAtPercentile(50)),
    p95: clamp(histogram.getValueAtPercentile(95)),
    p99: clamp(histogram.getValueAtPercentile(99)),
    max: toMs(max),
    mean: clamp(histogram.mean),
  };
}

/** A summary of the last `seconds` only (see {@link WindowedHistogram}). */
export interface WindowSummary extends LatencySummary {
  /** How far back the window reaches. */
  seconds: number;
}

/** Options of {@link WindowedHistogram}. */
export interface WindowOptions {
  /** How far back the window reaches. Default 10 s. */
  windowMs?: number;
  /** The width of one slot of the ring (the window moves by this much). Default 1 s. */
  slotMs?: number;
  /** The clock, in milliseconds (tests inject one). Default `Date.now`. */
  now?: () => number;
}

/**
 * Latencies of the last `windowMs` only: a ring of histograms, one per `slotMs` slot. A slot is
 * reset when the clock comes back to it, so values older than the window are forgotten (the window
 * covers the current, partial slot and the whole slots before it).
 */
export class WindowedHistogram {
  readonly windowMs: number;
  readonly #slotMs: number;
  readonly #now: () => number;
  readonly #slots: { index: number; histogram: LatencyHistogram }[];
  readonly #merged = createLatencyHistogram();

  constructor(options: WindowOptions = {}) {
    this.windowMs = options.windowMs ?? 10_000;
    this.#slotMs = options.slotMs ?? 1000;
    this.#now = options.now ?? Date.now;
    const n = Math.max(1, Math.ceil(this.windowMs / this.#slotMs));
    this.#slots = Array.from({ length: n }, () => ({
      index: -Infinity,
      histogram: createLatencyHistogram(),
    }));
  }

  /** Records a latency given in milliseconds in the current slot. */
  recordMs(ms: number): void {
    const index = Math.floor(this.#now() / this.#slotMs);
    const slot = this.#slots[index % this.#slots.length];
    if (slot.index !== index) {
      slot.histogram.reset();
      slot.index = index;
    }
    recordMs(slot.histogram, ms);
  }

  /** Summarises the values recorded within the window (zeros when there are none). */
  summarize(): WindowSummary {
    const current = Math.floor(this.#now() / this.#slotMs);
    this.#merged.reset();
    for (const slot of this.#slots) {
      if (slot.index > current - this.#slots.length && slot.index <= current) {
        this.#merged.add(slot.histogram);
      }
    }
    return { seconds: this.windowMs / 1000, ...summarize(this.#merged) };
  }
}
