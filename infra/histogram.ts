/**
 * Latency histograms (HDR, microsecond resolution, 3 significant digits) and their summary in ms.
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
