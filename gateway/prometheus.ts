/**
 * A strict reader of the Prometheus text format (0.0.4), enough to check the gateway's `/metrics`
 * and to read its counters back (tests, `deno task k6`): every sample must belong to a family
 * declared with `# TYPE`, names and labels must be well formed, values must be numbers, and
 * histogram buckets must be cumulative and end in `+Inf` equal to `_count`.
 * @module
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed metrics page. */
export interface MetricsPage {
  /** Family name → type (`counter`, `gauge`, `histogram`, `summary`, `untyped`). */
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses `text`; throws an error naming the line that breaks the format. */
export function parsePrometheusText(text: string): MetricsPage {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split("\n").forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`Metrics line ${index + 1} (${JSON.stringify(line)}): ${why}`);
    };
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const [, keyword, name, ...rest] = line.split(" ");
      if (keyword === "TYPE") {
        if (!NAME.test(name ?? "")) fail("bad metric name");
        if (!TYPES.has(rest[0])) fail(`unknown type ${rest[0]}`);
        if (types.has(name)) fail("family declared twice");
        types.set(name, rest[0]);
      } else if (keyword === "HELP" && !NAME.test(name ?? "")) fail("bad metric name");
      return;
    }
    const m = SAMPLE.exec(line) ?? fail("not a sample line");
    const [, name, labelText = "", valueText] = m;
    const labels: Record<string, string> = {};
    let rest = labelText;
    while (rest.length > 0) {
      const l = LABEL.exec(rest) ?? fail("bad label list");
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
      rest = rest.slice(l[0].length);
    }
    const value = valueText === "+Inf"
      ? Infinity
      : valueText === "-Inf"
      ? -Infinity
      : valueText === "NaN"
      ? NaN
      : Number(valueText);
    if (!/^(?:[+-]?Inf|NaN)$/.test(valueText) && !Number.isFinite(value)) fail("bad value");
    const family = familyOf(name, types);
    if (family === undefined) fail(`sample of ${name} before its # TYPE line`);
    samples.push({ name, labels, value });
  });
  checkHistograms(types, samples);
  return { types, samples };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ["histogram", "summary"].includes(types.get(base) ?? "")) {
      return base;
    }
  }
  return undefined;
}

function checkHistograms(types: Map<string, string>, samples: Sample[]): void {
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, { les: [number, number][]; count?: number }>();
    const keyOf = (labels: Record<string, string>) =>
      JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
    for (const s of samples) {
      if (s.name === `${family}_bucket`) {
        if (s.labels.le === undefined) throw new Error(`${family}_bucket without an le label`);
        const entry = series.get(keyOf(s.labels)) ?? { les: [] };
        entry.les.push([s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), s.value]);
        series.set(keyOf(s.labels), entry);
      } else if (s.name === `${family}_count`) {
        const entry = series.get(keyOf(s.labels)) ?? { les: [] };
        entry.count = s.value;
        series.set(keyOf(s.labels), entry);
      }
    }
    for (const [key, { les, count }] of series) {
      const sorted = [...les].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i][1] < sorted[i - 1][1]) {
          throw new Error(`${family}${key}: buckets are not cumulative`);
        }
      }
      const inf = sorted.at(-1);
      if (inf === undefined || inf[0] !== Infinity) {
        throw new Error(`${family}${key}: no +Inf bucket`);
      }
      if (inf[1] !== count) throw new Error(`${family}${key}: +Inf bucket is not _count`);
    }
  }
}

/** The value of the sample `name` whose labels include `labels` (0 when absent). */
export function sampleValue(
  page: MetricsPage,
  name: string,
  labels: Record<string, string> = {},
): number {
  const s = page.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return s?.value ?? 0;
}
