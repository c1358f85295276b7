/**
 * Processing rate: the change of a counter (`processed_count`) over a sliding time window.
 * @module
 */

/** Samples of a counter over time; the rate is their slope over the last `windowMs`. */
export class RateWindow {
  #samples: { atMs: number; value: number }[] = [];

  constructor(readonly windowMs = 5000) {}

  /** Adds a sample; a counter that went down (reset) starts the window again. */
  add(atMs: number, value: number): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && value < last.value) this.#samples = [];
    this.#samples.push({ atMs, value });
    // Keep one sample at or before the window's start so the slope covers the whole window.
    while (this.#samples.length > 2 && this.#samples[1].atMs <= atMs - this.windowMs) {
      this.#samples.shift();
    }
  }

  /** Units per second over the window, or undefined before two samples. */
  perSecond(): number | undefined {
    if (this.#samples.length < 2) return undefined;
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    const seconds = (last.atMs - first.atMs) / 1000;
    return seconds > 0 ? (last.value - first.value) / seconds : undefined;
  }

  /** The time the rate covers, in ms (0 before two samples). */
  spanMs(): number {
    if (this.#samples.length < 2) return 0;
    return this.#samples[this.#samples.length - 1].atMs - this.#samples[0].atMs;
  }
}
