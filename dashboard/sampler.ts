/**
 * The dashboard's heartbeat: one monitor snapshot per interval, whoever is watching, kept as chart
 * history and sent to every page that listens (Server-Sent Events). One Redis connection and one
 * pipelined round per refresh, however many pages are open.
 * @module
 */
import type { Redis } from "@fastpix/infra";
import { snapshot, type SnapshotOptions, SnapshotState } from "@fastpix/monitor";
import { History, type HistoryPoint } from "./history.ts";
import { type DashboardView, dashboardView, sampleOf } from "./view.ts";

/** Options of {@link Sampler}. */
export interface SamplerOptions extends Omit<SnapshotOptions, "state" | "completeScan"> {
  intervalMs: number;
  /** Points the charts keep. */
  historyPoints: number;
  /** `COUNT` of each `SCAN` step (one step per refresh). */
  scanCount: number;
}

/** One refresh as the pages get it. */
export interface SampleEvent {
  point: HistoryPoint;
  view: DashboardView;
}

/** Refreshes a snapshot every interval and hands it to the listeners. */
export class Sampler {
  readonly history: History;
  #redis: Redis;
  #options: SamplerOptions;
  #state: SnapshotState;
  #listeners = new Set<(event: SampleEvent) => void>();
  #latest: SampleEvent | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #wake = () => {};

  constructor(redis: Redis, options: SamplerOptions) {
    this.#redis = redis;
    this.#options = options;
    this.#state = new SnapshotState(options.responsePrefix, options.scanCount);
    this.history = new History(options.historyPoints);
  }

  /** The last refresh (undefined before the first one). */
  get latest(): SampleEvent | undefined {
    return this.#latest;
  }

  /** Reads one snapshot now and tells the listeners. */
  async refresh(): Promise<SampleEvent> {
    const snap = await snapshot(this.#redis, { ...this.#options, state: this.#state });
    const now = Date.now();
    const view = dashboardView(snap, now);
    const event = { point: this.history.add(sampleOf(snap, view, now)), view };
    this.#latest = event;
    for (const listener of this.#listeners) listener(event);
    return event;
  }

  /** Starts refreshing every interval (the first refresh is done when this resolves). */
  async start(): Promise<void> {
    let started = Date.now();
    await this.refresh();
    this.#running = (async () => {
      while (!this.#stopped) {
        const wait = Math.max(0, this.#options.intervalMs - (Date.now() - started));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (this.#stopped) break;
        started = Date.now();
        await this.refresh();
      }
    })();
  }

  /** Calls `listener` after every refresh until the returned function is called. */
  subscribe(listener: (event: SampleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops refreshing. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.#running;
  }
}
