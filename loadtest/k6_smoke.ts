/**
 * `deno task k6:smoke`: every k6 scenario for a few seconds at a low rate under the real k6, each
 * against its private stack (as `deno task k6` starts it), checking what a working run must show:
 * k6 and the summary passed, at least {@link MIN_SERVED} of the offered rate was served, and what
 * was enqueued was processed, no more and no less. Only the soak crashes a consumer; there a
 * design whose guarantee allows loss (or double counting) after a crash is not held to none.
 * @module
 */
import { type DesignName, DESIGNS, isDesignName } from "@fastpix/queue";
import { type K6RunResult, runK6 } from "./k6_runner.ts";

/** The scenarios the smoke runs, in this order. */
export const SMOKE_SCENARIOS = ["designs", "redis_direct", "soak", "rinha"] as const;

/** One of {@link SMOKE_SCENARIOS}. */
export type SmokeScenario = typeof SMOKE_SCENARIOS[number];

/** The share of the offered rate a smoke run must serve. */
export const MIN_SERVED = 0.8;

/** Payments per second offered by the smoke (low: it checks that things work, not how fast). */
export const SMOKE_RATE = 100;

/**
 * Each scenario's settings: a few seconds at {@link SMOKE_RATE}, latency limits loose enough for a
 * busy machine (the smoke is about working, the benchmarks are about speed).
 */
export const SMOKE_ENV: Readonly<Record<SmokeScenario, Record<string, string>>> = {
  designs: {
    RATE: String(SMOKE_RATE),
    CONSTANT_DURATION: "3s",
    RAMP_RATES: String(SMOKE_RATE),
    STEP_DURATION: "1s",
    STEP_RAMP: "1s",
    GAP: "0s",
    P99_MS: "2000",
    DRAIN: "30s",
  },
  redis_direct: { RATE: String(SMOKE_RATE), DURATION: "3s", P99_MS: "2000", DRAIN: "30s" },
  soak: { RATE: String(SMOKE_RATE), DURATION: "6s", P99_MS: "2000", DRAIN: "30s" },
  rinha: { MAX_RATE: String(SMOKE_RATE), DURATION_S: "6", P99_MS: "2000", DRAIN: "15s" },
};

/** What a crash may do to a design's payments, from its counting guarantee in the registry. */
export function crashAllowance(design: DesignName): { loss: boolean; twice: boolean } {
  const counting = DESIGNS[design].guarantees.counting;
  if (counting.startsWith("exactly once")) return { loss: false, twice: false };
  if (counting.startsWith("at least once")) return { loss: false, twice: true };
  if (counting.startsWith("at most once")) return { loss: true, twice: false };
  throw new Error(`Cannot tell what ${design} promises from its counting "${counting}"`);
}

/** One design's (or the Rinha run's) figures in a smoke run, and what is wrong with them. */
export interface SmokeRow {
  scenario: SmokeScenario;
  /** The design, or `rinha`. */
  design: string;
  offeredRate: number;
  servedRate: number;
  enqueued: number | null;
  processed: number | null;
  lost: number | null;
  countedTwice: number | null;
  failures: string[];
}

// deno-lint-ignore no-explicit-any
type Json = any;

const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Checks the figures of one result (from the summary JSON of `deno task k6`): served share,
 * enqueued = processed, and no loss or double count unless `crashed` and the design allows it.
 */
function judge(row: Omit<SmokeRow, "failures">, crashed: boolean, accepted?: number): SmokeRow {
  const failures: string[] = [];
  if (row.offeredRate <= 0 || row.servedRate < MIN_SERVED * row.offeredRate) {
    failures.push(
      `served ${row.servedRate}/s of ${row.offeredRate}/s offered (under ${MIN_SERVED * 100}%)`,
    );
  }
  if (row.enqueued === null || row.processed === null) {
    failures.push("enqueued or processed unknown (the end-of-run check did not run)");
  } else {
    if (row.enqueued === 0) failures.push("nothing was enqueued");
    const design = isDesignName(row.design) ? row.design : undefined;
    const allowed = crashed && design ? crashAllowance(design) : { loss: false, twice: false };
    if (row.processed < row.enqueued && !allowed.loss) {
      failures.push(`enqueued ${row.enqueued} but processed ${row.processed}`);
    }
    if (row.processed > row.enqueued && !allowed.twice) {
      failures.push(`processed ${row.processed} but enqueued ${row.enqueued}`);
    }
    if (accepted !== undefined && accepted !== row.enqueued) {
      failures.push(`accepted ${accepted} but enqueued ${row.enqueued}`);
    }
  }
  return { ...row, failures };
}

/** The rows of one scenario's summary JSON (as `deno task k6` writes it). */
export function smokeRows(scenario: SmokeScenario, summary: Json): SmokeRow[] {
  const results: Json[] = Array.isArray(summary?.results) ? summary.results : [];
  const rows = results.map((r): SmokeRow => {
    const design = String(r.design ?? scenario);
    const base = { scenario, design, lost: null, countedTwice: null };
    if (scenario === "designs") {
      const drain = r.drain ?? {};
      return judge(
        {
          ...base,
          offeredRate: num(r.constant?.offeredRate) ?? 0,
          servedRate: num(r.constant?.throughput) ?? 0,
          enqueued: num(drain.enqueued),
          processed: num(drain.processed),
          lost: num(drain.lost),
          countedTwice: num(drain.countedTwice),
        },
        false,
        num(r.accepted) ?? 0,
      );
    }
    if (scenario === "redis_direct" || scenario === "soak") {
      // The soak counts what the gateway enqueued; redis_direct what it enqueued itself.
      const soak = scenario === "soak";
      return judge(
        {
          ...base,
          offeredRate: num(r.offeredRate) ?? 0,
          servedRate: num(r.throughput?.[0]?.perSecond) ?? 0,
          enqueued: num(soak ? r.gatewayEnqueued : r.enqueued),
          processed: num(soak ? r.redisProcessed : r.processed),
          lost: num(r.lost),
          countedTwice: num(r.countedTwice),
        },
        soak,
        soak ? num(r.accepted) ?? 0 : undefined,
      );
    }
    // rinha: the ramp's offered payments against those accepted; accepted ones must be paid.
    const offered = num(r.requests?.offered) ?? 0;
    const accepted = num(r.requests?.accepted) ?? 0;
    const seconds = num(summary?.options?.durationS) ?? 1;
    const lag = num(r.lag);
    const processed = lag === null ? null : accepted - lag;
    const row = judge({
      ...base,
      design: "rinha",
      offeredRate: round1(offered / seconds),
      servedRate: round1(accepted / seconds),
      enqueued: lag === null ? null : accepted,
      processed,
      lost: lag === null ? null : Math.max(0, lag),
      countedTwice: lag === null ? null : Math.max(0, -lag),
    }, false);
    const inconsistency = num(r.inconsistencyAmount);
    if (inconsistency !== 0) {
      row.failures.push(`backend and processors disagree by ${inconsistency ?? "?"}`);
    }
    return row;
  });
  if (rows.length === 0) {
    rows.push({
      scenario,
      design: "-",
      offeredRate: 0,
      servedRate: 0,
      enqueued: null,
      processed: null,
      lost: null,
      countedTwice: null,
      failures: ["the summary has no results"],
    });
  }
  return rows;
}

/** Settings of {@link runSmoke}. */
export interface SmokeOptions {
  k6: string;
  scenarios: readonly SmokeScenario[];
  /** Designs for `designs` and `redis_direct` (all by default); the soak runs the first. */
  designs?: DesignName[];
  resultsDir: string;
}

/** One scenario's run: what `deno task k6` said and the rows checked. */
export interface SmokeRun {
  scenario: SmokeScenario;
  run: K6RunResult;
  rows: SmokeRow[];
  seconds: number;
  /** Every reason the scenario failed: the run's own problems and the smoke's checks. */
  failures: string[];
}

/** Runs each scenario in turn and checks it. */
export async function runSmoke(
  options: SmokeOptions,
  onRun: (run: SmokeRun) => void = () => {},
): Promise<SmokeRun[]> {
  const runs: SmokeRun[] = [];
  for (const scenario of options.scenarios) {
    const started = Date.now();
    const run = await runK6({
      scenario,
      designs: options.designs,
      consumers: 1,
      k6: options.k6,
      k6Args: ["--quiet"],
      resultsDir: options.resultsDir,
      env: SMOKE_ENV[scenario],
    });
    let summary: Json = null;
    try {
      summary = JSON.parse(await Deno.readTextFile(run.summary));
    } catch { /* no summary: the rows say so */ }
    const rows = smokeRows(scenario, summary);
    const failures = [...run.problems];
    if (run.code !== 0 && failures.length === 0) failures.push(`exit code ${run.code}`);
    for (const row of rows) failures.push(...row.failures.map((f) => `${row.design}: ${f}`));
    const done = { scenario, run, rows, seconds: round1((Date.now() - started) / 1000), failures };
    runs.push(done);
    onRun(done);
  }
  return runs;
}
