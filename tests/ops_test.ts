/**
 * ops/: the Prometheus alert rules and the Grafana dashboard. promtool checks the rules, runs their
 * unit tests and parses every dashboard query (skipped without promtool; CI installs it); every
 * alert carries a severity and a runbook link; and every metric name the dashboard, the rules and
 * their tests use is one a live exporter and a live gateway really serve (real Redis, a consumer
 * run) — none of the consumers' future `fastpix_consumer_*` metrics.
 */
import assert from "node:assert/strict";
import { StreamConsumer } from "@fastpix/consumer";
import { serveExporter } from "@fastpix/monitor";
import { GATEWAY_DEFAULTS, parsePrometheusText, serveGateway } from "@fastpix/gateway";
import { DEFAULT_LIMITS, ledgerBacklogKey } from "@fastpix/pix";
import { addRaw, client, consumerOptions, INTEGRATION, startRedis, waitFor } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);
const ALERTS = "ops/prometheus/alerts.yml";
const ALERTS_TEST = "ops/prometheus/alerts_test.yml";
const DASHBOARD = "ops/grafana/fastpix.json";

const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

const hasPromtool = await new Deno.Command("promtool", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

async function promtool(args: string[], cwd = ROOT.pathname): Promise<string> {
  const out = await new Deno.Command("promtool", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `promtool ${args.join(" ")}:\n${text}`);
  return text;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
}

async function dashboard(): Promise<{ uid: string; panels: Panel[]; templating: unknown }> {
  return JSON.parse(await read(DASHBOARD));
}

/** Every query of the dashboard, with its template variables given values. */
async function dashboardQueries(): Promise<{ panel: string; expr: string }[]> {
  return (await dashboard()).panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll("$queue_job", ".+").replaceAll("$gateway_job", ".+"),
    }))
  );
}

/** One alert of alerts.yml, read from its own lines (the file keeps one layout). */
interface AlertRule {
  name: string;
  text: string;
}

async function alertRules(): Promise<AlertRule[]> {
  const text = await read(ALERTS);
  return text.split(/\n(?= +- (?:alert|record): )/).slice(1)
    .filter((block) => /^ +- alert: /.test(block))
    .map((block) => ({ name: /- alert: (\S+)/.exec(block)![1], text: block }));
}

Deno.test({
  name: "promtool check rules: the alert rules are valid",
  ignore: !hasPromtool,
  fn: async () => {
    assert.match(await promtool(["check", "rules", ALERTS]), /SUCCESS: \d+ rules found/);
  },
});

Deno.test({
  name: "promtool test rules: every alert fires, and stays quiet, as its unit tests say",
  ignore: !hasPromtool,
  fn: async () => {
    const tested = new Set(
      [...(await read(ALERTS_TEST)).matchAll(/alertname: (\S+)/g)].map((m) => m[1]),
    );
    assert.deepEqual([...tested].sort(), (await alertRules()).map((a) => a.name).sort());
    const out = await promtool(
      ["test", "rules", "alerts_test.yml"],
      `${ROOT.pathname}ops/prometheus`,
    );
    assert.match(out, /SUCCESS/);
  },
});

Deno.test("every alert has a severity, a summary, a description and a runbook link", async () => {
  const alerts = await alertRules();
  assert.ok(alerts.length >= 9, `only ${alerts.length} alerts`);
  let operating: string | undefined;
  try {
    operating = await read("docs/operating.md");
  } catch { /* the runbook page is not written yet: its anchors are checked once it is */ }
  for (const { name, text } of alerts) {
    assert.match(text, /\n +severity: (page|ticket|warning)\n/, `${name}: severity`);
    assert.match(text, /\n +summary: "[^"]+"\n/, `${name}: summary`);
    assert.match(text, /\n +description: "[^"]+"\n/, `${name}: description`);
    const runbook = /\n +runbook_url: docs\/operating\.md#([a-z0-9-]+)\n/.exec(text);
    assert.ok(runbook, `${name}: runbook_url docs/operating.md#<anchor>`);
    if (operating !== undefined) {
      const headings = [...operating.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1].toLowerCase().replace(/[^a-z0-9 _-]/g, "").replace(/ /g, "-")
      );
      assert.ok(headings.includes(runbook[1]), `${name}: no heading #${runbook[1]}`);
    }
  }
});

Deno.test("the dashboard: unique ids, a query in every panel, the datasource variable", async () => {
  const dash = await dashboard();
  assert.equal(dash.uid, "fastpix");
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const cells = new Set<string>();
  for (const p of dash.panels) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: wider than the grid`);
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel`);
        cells.add(`${x},${y}`);
      }
    }
    if (p.type === "row") continue;
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    assert.equal(p.datasource?.uid, "${datasource}", `${p.title}: datasource`);
  }
  const titles = dash.panels.map((p) => p.title.toLowerCase()).join(" | ");
  for (
    const topic of [
      "throughput",
      "lag",
      "pending",
      "oldest pending",
      "dead letters by error code",
      "stalled",
      "latency",
      "requests",
      "errors",
      "redis up",
    ]
  ) assert.ok(titles.includes(topic), `no panel about ${topic}`);
});

Deno.test({
  name: "promtool parses every dashboard query",
  ignore: !hasPromtool,
  fn: async () => {
    // Each query as a recording rule: `promtool check rules` parses its PromQL.
    const queries = await dashboardQueries();
    const rules = queries.map((q, i) =>
      `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(q.expr)}`
    ).join("\n");
    const file = await Deno.makeTempFile({ suffix: ".yml" });
    try {
      await Deno.writeTextFile(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      assert.match(
        await promtool(["check", "rules", file]),
        new RegExp(`SUCCESS: ${queries.length} rules found`),
      );
    } finally {
      await Deno.remove(file);
    }
  },
});

/** Metric names in `text` outside comment lines: fastpix_* identifiers (no label starts so). */
const metricNames = (text: string) =>
  new Set(text.replace(/^\s*#.*$/gm, "").match(/\bfastpix_[a-zA-Z0-9_]+/g) ?? []);

Deno.test(
  "every metric the dashboard and the rules use is served by a live exporter or gateway",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const consumer = new StreamConsumer(consumerOptions(server.url));
    const consuming = consumer.run();
    const gateway = await serveGateway({
      ...GATEWAY_DEFAULTS,
      redisUrl: server.url,
      design: "stream",
      target: { stream: "pix_payments", group: "pix_consumers", numLists: 1 },
      responsePrefix: "backend_bacen_response_",
      limits: DEFAULT_LIMITS,
      port: 0,
      hostname: "127.0.0.1",
      reusePort: false,
    });
    const exporter = await serveExporter({
      redisUrl: server.url,
      stream: "pix_payments",
      group: "pix_consumers",
      responsePrefix: "backend_bacen_response_",
      idleThresholdMs: 5000,
      intervalMs: 0,
      scanCount: 1000,
      port: 0,
      hostname: "127.0.0.1",
      metrics: { ledgerMaxBacklog: 200_000 },
    });
    try {
      // Payments through the gateway, one the consumer dead-letters, a ledger backlog (the key a
      // consumer with POSTGRES_DSN keeps), and the consumer's latency window.
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`${gateway.url}/pix/payments`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ backend_id: "1", amount: "10.00" }),
        });
        assert.equal(response.status, 202, await response.text());
      }
      await addRaw(redis, { transaction_id: "bad-amount", backend_id: "1", amount: "1,00" });
      await redis.set(ledgerBacklogKey("pix_payments"), "0");
      await waitFor("the consumer to process and publish its latency", async () => {
        const latency = await redis.hget("pix:latency", "test_consumer");
        return Number(await redis.get("processed_count")) === 20 &&
          await redis.xlen("pix_payments:dlq") === 1 && latency !== null &&
          JSON.parse(latency).window?.count > 0;
      });
      const served = new Set<string>();
      for (const url of [`${exporter.url}/metrics`, `${gateway.url}/metrics`]) {
        const page = parsePrometheusText(await (await fetch(url)).text());
        for (const s of page.samples) served.add(s.name);
      }
      assert.ok(served.has("fastpix_queue_consumer_latency_window_seconds"));
      assert.ok(served.has("fastpix_queue_dlq_code_entries"));
      assert.ok(served.has("fastpix_gateway_request_duration_seconds_bucket"));

      const sources: [string, string][] = [
        [DASHBOARD, (await dashboardQueries()).map((q) => q.expr).join("\n")],
        [ALERTS, await read(ALERTS)],
        [ALERTS_TEST, await read(ALERTS_TEST)],
      ];
      for (const [file, text] of sources) {
        const names = [...metricNames(text)];
        assert.ok(names.length > 5, `${file}: only ${names.length} metric names`);
        const future = names.filter((n) => n.startsWith("fastpix_consumer_"));
        assert.deepEqual(future, [], `${file} uses metrics no consumer serves yet`);
        const unknown = names.filter((n) => !served.has(n));
        assert.deepEqual(unknown, [], `${file} uses metrics nothing serves`);
      }
      // Recording rules used by alerts are recorded in the same file.
      const rulesText = await read(ALERTS);
      const recorded = new Set([...rulesText.matchAll(/- record: (\S+)/g)].map((m) => m[1]));
      for (const used of rulesText.match(/\bfastpix:[a-zA-Z0-9_:]+/g) ?? []) {
        assert.ok(recorded.has(used), `${used} is used but not recorded`);
      }
    } finally {
      await exporter.stop();
      await gateway.stop();
      consumer.stop();
      await consuming;
      redis.disconnect();
    }
  },
);
