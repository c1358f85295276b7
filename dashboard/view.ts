/**
 * What the page is sent each refresh: the monitor's snapshot, shaped for a browser. Thousands of
 * response streams become the longest few and one aggregate row; each consumer gets its state
 * (active, idle or STALLED); the consumers' latency windows become one p50 and one p99.
 * @module
 */
import type { ConsumerInfo, LatencyInfo, ResponseStreamInfo, Snapshot } from "@fastpix/monitor";
import type { Sample } from "./history.ts";

/** A consumer's state: talked to the group within the threshold, not, or silent while holding. */
export type ConsumerState = "active" | "idle" | "stalled";

/** A consumer as the page shows it. */
export interface ConsumerView extends ConsumerInfo {
  state: ConsumerState;
}

/** The response streams: every one when few, else the longest ones and the rest summed up. */
export interface ResponsesView {
  prefix: string;
  /** How many response streams are known. */
  count: number;
  totalLength: number;
  scanComplete: boolean;
  /** The streams listed one by one (all of them, or the longest {@link VIEW_LIMITS}.responses). */
  shown: ResponseStreamInfo[];
  /** The streams not listed one by one: how many and their entries. */
  others: { count: number; length: number };
}

/** The snapshot as the page gets it. */
export interface DashboardView
  extends Omit<Snapshot, "groups" | "responses" | "lists" | "latency"> {
  groups: (Omit<Snapshot["groups"][number], "consumers"> & {
    consumers: ConsumerView[];
    /** Consumers left out of `consumers` (the least interesting ones, past the limit). */
    hiddenConsumers: number;
  })[];
  responses: ResponsesView;
  lists: Snapshot["lists"];
  hiddenLists: number;
  latency: LatencyInfo[];
  /** The consumers' latency windows at a glance (null: nobody published a recent window). */
  latencyNow: { p50: number | null; p99: number | null; consumers: number };
}

/** How many rows of each kind the page is sent at most. */
export const VIEW_LIMITS = { responses: 20, consumers: 200, lists: 100, latency: 100 };

/** A consumer's state under `idleThresholdMs`. */
export function consumerState(c: ConsumerInfo, idleThresholdMs: number): ConsumerState {
  if (c.stalled) return "stalled";
  return c.idleMs <= idleThresholdMs ? "active" : "idle";
}

const STATE_ORDER: Record<ConsumerState, number> = { stalled: 0, active: 1, idle: 2 };

/**
 * One p50 and one p99 from the consumers' last windows published within `freshMs` of `nowMs`:
 * the p50 is the count-weighted mean of their p50s (an approximation: percentiles do not add up),
 * the p99 the worst consumer's (an upper bound). Consumers that processed nothing are skipped.
 */
export function combineLatency(
  latency: readonly LatencyInfo[],
  nowMs: number,
  freshMs = 15_000,
): DashboardView["latencyNow"] {
  let weighted = 0, count = 0, p99: number | null = null, consumers = 0;
  for (const l of latency) {
    const at = Date.parse(l.at);
    const w = l.window;
    if (!w || w.count <= 0 || !Number.isFinite(at) || nowMs - at > freshMs) continue;
    consumers++;
    weighted += w.p50 * w.count;
    count += w.count;
    p99 = Math.max(p99 ?? 0, w.p99);
  }
  return { p50: count > 0 ? weighted / count : null, p99, consumers };
}

/** Shapes `snap` for the page. */
export function dashboardView(snap: Snapshot, nowMs = Date.now()): DashboardView {
  const groups = snap.groups.map((g) => {
    const all = g.consumers.map((c) => ({ ...c, state: consumerState(c, snap.idleThresholdMs) }));
    // Past the limit, keep the stalled ones first, then those holding the most entries.
    const kept = all.length <= VIEW_LIMITS.consumers
      ? all
      : [...all].sort((a, b) =>
        STATE_ORDER[a.state] - STATE_ORDER[b.state] || b.pending - a.pending
      ).slice(0, VIEW_LIMITS.consumers).sort((a, b) => a.name.localeCompare(b.name));
    return { ...g, consumers: kept, hiddenConsumers: all.length - kept.length };
  });
  const streams = snap.responses.streams;
  const shown = streams.length <= VIEW_LIMITS.responses
    ? streams
    : [...streams].sort((a, b) => b.length - a.length).slice(0, VIEW_LIMITS.responses);
  const shownLength = shown.reduce((n, s) => n + s.length, 0);
  return {
    ...snap,
    groups,
    responses: {
      prefix: snap.responses.prefix,
      count: streams.length,
      totalLength: snap.responses.totalLength,
      scanComplete: snap.responses.scanComplete,
      shown,
      others: {
        count: streams.length - shown.length,
        length: snap.responses.totalLength - shownLength,
      },
    },
    lists: snap.lists.slice(0, VIEW_LIMITS.lists),
    hiddenLists: Math.max(0, snap.lists.length - VIEW_LIMITS.lists),
    latency: snap.latency.slice(0, VIEW_LIMITS.latency),
    latencyNow: combineLatency(snap.latency, nowMs),
  };
}

/** What the charts take from one snapshot. */
export function sampleOf(snap: Snapshot, view: DashboardView, atMs: number): Sample {
  return {
    atMs,
    available: snap.available,
    processed: snap.counters.processed,
    entriesAdded: snap.streamInfo?.entriesAdded ?? null,
    p50: view.latencyNow.p50,
    p99: view.latencyNow.p99,
    lag: snap.processor.groupExists ? snap.processor.lag : null,
    pending: snap.processor.groupExists ? snap.processor.pending : null,
    deadLetters: snap.dlq.length,
  };
}
