/**
 * The dashboard page (bundled with uPlot by `deno task dashboard:build`). It listens to the live
 * feed (`/api/events`, Server-Sent Events), draws three charts and the tables, lists dead letters
 * (replay or purge after a confirmation dialog) and looks payments up. Everything from the server
 * is put into the page as text (`textContent`), never as HTML.
 * @module
 */
import uPlot from "uplot";
import { formatCount, formatDecimal, formatMs, formatNumber } from "../../pix/format.ts";
import type { HistoryPoint } from "../history.ts";
import type { DashboardView } from "../view.ts";
import type { SampleEvent } from "../sampler.ts";
import type { DeadLetterView } from "../dead_letters.ts";
import type { PaymentLookup, StreamSighting } from "../lookup.ts";
import type { LetterOutcome } from "@fastpix/consumer";

// ---------------------------------------------------------------------------------------------
// Small helpers

type Child = Node | string | number | null | undefined | false;

/** An element with attributes (`class`, `data-*`, ...) and children (strings become text). */
function h(
  tag: string,
  attrs: Record<string, string | boolean | undefined> = {},
  ...kids: Child[]
) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  for (const kid of kids) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const $ = <T extends HTMLElement = HTMLElement>(selector: string) =>
  document.querySelector(selector) as T;

const int = (n: number | null | undefined) => n === null || n === undefined ? "—" : formatCount(n);

const dec = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined || !Number.isFinite(n) ? "—" : formatNumber(n, digits);

const ms = (n: number | null | undefined) =>
  n === null || n === undefined ? "—" : `${formatMs(n)} ms`;

function duration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  const s = msValue / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

const time = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toLocaleDateString()} ${d.toLocaleTimeString()}`;
};

function table(head: (string | [string, string])[], rows: HTMLElement[], empty?: string) {
  if (rows.length === 0 && empty) return h("p", { class: "muted" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...head.map((c) => Array.isArray(c) ? h("th", { class: c[1] }, c[0]) : h("th", {}, c)),
        ),
      ),
      h("tbody", {}, ...rows),
    ),
  );
}

const num = (value: Child) => h("td", { class: "num" }, value);

function fieldList(fields: Record<string, string> | null, masked: string[]): HTMLElement {
  if (!fields) return h("p", { class: "muted" }, "its original fields cannot be read back");
  const dl = h("dl", { class: "fields" });
  for (const [name, value] of Object.entries(fields)) {
    const isMasked = masked.includes(name);
    dl.append(
      h("dt", {}, name),
      h(
        "dd",
        isMasked ? { class: "masked", title: "masked: tick Show personal data" } : {},
        value,
      ),
    );
  }
  return dl;
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { credentials: "same-origin", ...init });
  if (response.status === 401) {
    location.href = "/login";
    throw new Error("logged out");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body as T;
}

const reveal = () => $<HTMLInputElement>("#reveal").checked;

// ---------------------------------------------------------------------------------------------
// Charts

interface ChartSpec {
  id: string;
  series: { label: string; key: keyof HistoryPoint; stroke: string; value?: string }[];
}

const CHARTS: ChartSpec[] = [
  {
    id: "chart-throughput",
    series: [
      { label: "enqueued/s", key: "enqueued", stroke: "#4c8bf5" },
      { label: "confirmed/s", key: "confirmed", stroke: "#2fb36d" },
    ],
  },
  {
    id: "chart-latency",
    series: [
      { label: "p50", key: "p50", stroke: "#2fb36d", value: "ms" },
      { label: "p99", key: "p99", stroke: "#e0a526", value: "ms" },
    ],
  },
  {
    id: "chart-queue",
    series: [
      { label: "lag", key: "lag", stroke: "#4c8bf5" },
      { label: "pending", key: "pending", stroke: "#e5484d" },
    ],
  },
];

const AXIS = { stroke: "#8b94a5", grid: { stroke: "#2a303c", width: 1 }, ticks: { show: false } };

class Charts {
  #points: HistoryPoint[] = [];
  #plots: { spec: ChartSpec; plot: uPlot; el: HTMLElement }[] = [];
  #capacity = 900;

  constructor() {
    for (const spec of CHARTS) {
      const el = $(`#${spec.id}`);
      const box = el.querySelector(".plot") as HTMLElement;
      const plot = new uPlot(
        {
          width: Math.max(300, box.clientWidth),
          height: 200,
          scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max, min)] } },
          axes: [AXIS, { ...AXIS, size: 60 }],
          series: [
            {},
            ...spec.series.map((s) => ({
              label: s.label,
              stroke: s.stroke,
              width: 2,
              spanGaps: false,
              points: { show: false },
              value: (_u: uPlot, v: number | null) =>
                v === null || v === undefined ? "—" : `${dec(v, v < 10 ? 2 : 1)}${s.value ?? ""}`,
            })),
          ],
          legend: { live: true },
        },
        this.#data(spec),
        box,
      );
      this.#plots.push({ spec, plot, el });
    }
    new ResizeObserver(() => {
      for (const { plot, el } of this.#plots) {
        const box = el.querySelector(".plot") as HTMLElement;
        const width = Math.max(300, box.clientWidth);
        if (Math.abs(width - plot.width) > 2) plot.setSize({ width, height: 200 });
      }
    }).observe($(".charts"));
  }

  #data(spec: ChartSpec): uPlot.AlignedData {
    return [
      this.#points.map((p) => p.t),
      ...spec.series.map((s) => this.#points.map((p) => p[s.key] as number | null)),
    ] as uPlot.AlignedData;
  }

  reset(points: HistoryPoint[], capacity: number) {
    this.#capacity = capacity;
    this.#points = points.slice(-capacity);
    this.#draw();
  }

  add(point: HistoryPoint) {
    this.#points.push(point);
    if (this.#points.length > this.#capacity) this.#points.shift();
    this.#draw();
  }

  #draw() {
    for (const { spec, plot, el } of this.#plots) {
      plot.setData(this.#data(spec));
      // Not hovering: the legend shows the newest values.
      if ((plot.cursor.left ?? -1) < 0 && this.#points.length > 0) {
        plot.setLegend({ idx: this.#points.length - 1 });
      }
      el.dataset.points = String(this.#points.length);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Panels fed by the live snapshot

let lastView: DashboardView | undefined;
let lastPoint: HistoryPoint | undefined;

function kpi(label: string, value: string, sub?: string, alert = false) {
  return h(
    "div",
    { class: alert ? "kpi alert" : "kpi", "data-kpi": label },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
    sub ? h("div", { class: "sub" }, sub) : null,
  );
}

function renderKpis(v: DashboardView) {
  const p = v.processor;
  $("#kpis").replaceChildren(
    kpi("processed", int(v.counters.processed), `total BRL ${formatDecimal(v.counters.totalBrl)}`),
    kpi(
      "throughput",
      lastPoint?.confirmed === null || lastPoint?.confirmed === undefined
        ? "—"
        : `${dec(lastPoint.confirmed, 1)}/s`,
      `enqueued ${
        lastPoint?.enqueued === null || lastPoint?.enqueued === undefined
          ? "—"
          : dec(lastPoint.enqueued, 1)
      }/s`,
    ),
    kpi(
      "latency p99",
      ms(v.latencyNow.p99),
      `p50 ${ms(v.latencyNow.p50)} · ${v.latencyNow.consumers} consumer(s)`,
    ),
    kpi("lag", p.groupExists ? int(p.lag) : "—", `group ${v.group}`),
    kpi("pending", p.groupExists ? int(p.pending) : "—", "delivered, not acknowledged"),
    kpi(
      "consumers",
      `${p.activeConsumers}/${p.consumers} active`,
      p.stalledConsumers > 0 ? `${p.stalledConsumers} STALLED` : "none stalled",
      p.stalledConsumers > 0,
    ),
    kpi("dead letters", int(v.dlq.length), v.dlq.key, v.dlq.length > 0),
    kpi(
      "redis",
      v.server ? v.server.version : "—",
      v.server ? `${bytes(v.server.usedMemoryBytes)} used` : (v.error ?? ""),
      !v.available,
    ),
  );
}

function renderStream(v: DashboardView) {
  const s = v.streamInfo;
  const body = $("#panel-stream .body");
  if (!s) {
    body.replaceChildren(h("p", { class: "muted" }, `Stream ${v.stream} does not exist yet.`));
    return;
  }
  const info = h(
    "dl",
    { class: "fields" },
    h("dt", {}, "stream"),
    h("dd", {}, v.stream),
    h("dt", {}, "length"),
    h("dd", {}, int(s.length)),
    h("dt", {}, "entries added"),
    h("dd", {}, int(s.entriesAdded)),
    h("dt", {}, "last id"),
    h("dd", {}, s.lastGeneratedId),
    h("dt", {}, "memory"),
    h("dd", {}, bytes(s.memoryBytes)),
  );
  const groups = table(
    ["group", ["pending", "num"], ["lag", "num"], ["consumers", "num"], "last delivered"],
    v.groups.map((g) =>
      h(
        "tr",
        { "data-group": g.name },
        h("td", {}, g.name),
        num(int(g.pending)),
        num(int(g.lag)),
        num(int(g.consumers.length + g.hiddenConsumers)),
        h("td", { class: "mono" }, g.lastDeliveredId),
      )
    ),
    "no consumer group",
  );
  body.replaceChildren(info, groups);
}

function renderConsumers(v: DashboardView) {
  const rows: HTMLElement[] = [];
  for (const g of v.groups) {
    for (const c of g.consumers) {
      rows.push(h(
        "tr",
        { "data-consumer": c.name, "data-state": c.state },
        h("td", {}, g.name),
        h("td", {}, c.name),
        num(int(c.pending)),
        num(duration(c.idleMs)),
        h(
          "td",
          {},
          h("span", { class: `badge ${c.state}` }, c.state === "stalled" ? "STALLED" : c.state),
        ),
      ));
    }
    if (g.hiddenConsumers > 0) {
      rows.push(h(
        "tr",
        { class: "others" },
        h("td", { colspan: "5" }, `${int(g.hiddenConsumers)} more consumers of ${g.name}`),
      ));
    }
  }
  $("#panel-consumers .body").replaceChildren(
    table(
      ["group", "consumer", ["pending", "num"], ["idle", "num"], "state"],
      rows,
      "no consumers",
    ),
    h(
      "p",
      { class: "muted" },
      `STALLED: holding pending entries and idle for more than ${duration(v.idleThresholdMs)}.`,
    ),
  );
}

function renderResponses(v: DashboardView) {
  const r = v.responses;
  const rows = r.shown.map((s) =>
    h(
      "tr",
      {},
      h("td", {}, s.backendId),
      num(int(s.length)),
      h("td", { class: "mono" }, s.lastId),
    )
  );
  if (r.others.count > 0) {
    rows.push(h(
      "tr",
      { class: "others" },
      h("td", {}, `${int(r.others.count)} more streams`),
      num(int(r.others.length)),
      h("td", {}, ""),
    ));
  }
  $("#panel-responses .body").replaceChildren(
    h(
      "p",
      { class: "muted" },
      `${int(r.count)} streams ${r.prefix}*, ${int(r.totalLength)} confirmations` +
        (r.scanComplete ? "" : " (still discovering keys)") +
        (r.others.count > 0 ? `; the ${r.shown.length} longest listed` : ""),
    ),
    table(["backend", ["length", "num"], "last id"], rows, "no response stream found yet"),
  );
}

function renderLatency(v: DashboardView) {
  const rows = v.latency.map((l) =>
    h(
      "tr",
      {},
      h("td", {}, l.consumer),
      num(l.window ? int(l.window.count) : "—"),
      num(l.window ? ms(l.window.p50) : "—"),
      num(l.window ? ms(l.window.p99) : "—"),
      num(int(l.count)),
      num(ms(l.p99)),
      num(ms(l.max)),
    )
  );
  $("#panel-latency .body").replaceChildren(
    table(
      [
        "consumer",
        ["10 s count", "num"],
        ["10 s p50", "num"],
        ["10 s p99", "num"],
        ["count", "num"],
        ["p99", "num"],
        ["max", "num"],
      ],
      rows,
      "no consumer publishes latency",
    ),
  );
}

function renderLists(v: DashboardView) {
  const rows = v.lists.map((l) =>
    h(
      "tr",
      {},
      h("td", { class: "mono" }, l.key),
      h("td", {}, l.kind === "source_list" ? "queue" : "processing"),
      num(int(l.length)),
    )
  );
  if (v.hiddenLists > 0) {
    rows.push(h("tr", { class: "others" }, h("td", { colspan: "3" }, `${v.hiddenLists} more`)));
  }
  $("#panel-lists .body").replaceChildren(
    table(["list", "kind", ["length", "num"]], rows, "no list design queue"),
  );
}

function renderLedger(v: DashboardView) {
  const panel = $("#panel-ledger");
  const l = v.ledger;
  panel.hidden = !l;
  if (!l) return;
  const rows: HTMLElement[] = [
    ...l.totals.map((t) =>
      h("tr", {}, h("td", {}, t.status), num(int(t.payments)), num(formatDecimal(t.amount)))
    ),
    ...l.recent.map((r) =>
      h(
        "tr",
        {},
        h("td", {}, `${r.status}, last hour`),
        num(int(r.payments)),
        num(`${ms(r.avgProcessingMs)} · ${ms(r.avgLatencyMs)} from enqueue`),
      )
    ),
    ...l.topErrors.map((e) =>
      h(
        "tr",
        {},
        h("td", {}, `error ${e.code}, last hour`),
        num(int(e.occurrences)),
        h("td", {}, e.lastMessage),
      )
    ),
    ...l.consumers.map((c) =>
      h(
        "tr",
        {},
        h("td", {}, c.consumer),
        num(int(c.processed)),
        num(`${c.errorRatePct.toFixed(1)}% errors · idle ${duration(c.idleS * 1000)}`),
      )
    ),
  ];
  panel.querySelector(".body")!.replaceChildren(table(["", ["payments", "num"], ""], rows));
}

function renderCodes(v: DashboardView) {
  const select = $<HTMLSelectElement>("#dlq-code");
  const current = select.value;
  const codes = new Map(v.dlq.topCodes.map((c) => [c.code, c]));
  const known = new Set([...select.options].map((o) => o.value));
  const wanted = new Set(["", ...codes.keys(), current]);
  if ([...wanted].every((c) => known.has(c)) && known.size === wanted.size) return;
  select.replaceChildren(
    h("option", { value: "" }, "all codes"),
    ...[...wanted].filter((c) => c !== "" && c !== "none").map((c) => {
      const info = codes.get(c);
      return h("option", { value: c }, info?.name ? `${c} ${info.name}` : c);
    }),
  );
  select.value = current;
}

function render(v: DashboardView) {
  lastView = v;
  $("#target").textContent = `${v.redisUrl} · ${v.stream}/${v.group}`;
  const banner = $("#banner");
  banner.hidden = v.available && v.notes.length === 0;
  banner.textContent = v.available
    ? v.notes.join(" · ")
    : `Redis unavailable: ${v.error} — retrying; the charts keep their history.`;
  const status = $("#status");
  status.dataset.state = v.available ? "live" : "down";
  status.textContent = v.available
    ? `live · ${new Date(v.at).toLocaleTimeString()}`
    : "Redis unavailable";
  renderKpis(v);
  renderStream(v);
  renderConsumers(v);
  renderResponses(v);
  renderLatency(v);
  renderLists(v);
  renderLedger(v);
  renderCodes(v);
  if (v.dlq.length !== dlqLengthShown && selected.size === 0 && !dlqLoading) loadDeadLetters();
}

// ---------------------------------------------------------------------------------------------
// Dead letters

const selected = new Set<string>();
let dlqLengthShown = -1;
let dlqLoading = false;

function updateActions() {
  $<HTMLButtonElement>("#dlq-replay").disabled = selected.size === 0;
  $<HTMLButtonElement>("#dlq-purge").disabled = selected.size === 0;
  const n = selected.size;
  $("#dlq-replay").textContent = n > 0 ? `Replay ${n} selected` : "Replay selected";
  $("#dlq-purge").textContent = n > 0 ? `Purge ${n} selected` : "Purge selected";
}

function renderDeadLetters(letters: DeadLetterView[]) {
  for (const id of [...selected]) if (!letters.some((l) => l.id === id)) selected.delete(id);
  const all = h("input", { type: "checkbox", "aria-label": "select all" }) as HTMLInputElement;
  all.checked = letters.length > 0 && letters.every((l) => selected.has(l.id));
  const boxes: HTMLInputElement[] = [];
  all.addEventListener("change", () => {
    for (const box of boxes) {
      box.checked = all.checked;
      if (all.checked) selected.add(box.value);
      else selected.delete(box.value);
    }
    updateActions();
  });
  const rows = letters.map((l) => {
    const box = h("input", {
      type: "checkbox",
      value: l.id,
      "aria-label": `select ${l.id}`,
    }) as HTMLInputElement;
    box.checked = selected.has(l.id);
    box.addEventListener("change", () => {
      if (box.checked) selected.add(l.id);
      else selected.delete(l.id);
      all.checked = boxes.every((b) => b.checked);
      updateActions();
    });
    boxes.push(box);
    return h(
      "tr",
      { "data-letter": l.id, "data-tx": l.transactionId },
      h("td", {}, box),
      h("td", { class: "mono" }, l.id),
      h("td", {}, time(l.failedAt)),
      h(
        "td",
        {},
        h("span", { class: "badge dead_lettered" }, String(l.errorCode)),
        " ",
        l.codeName ?? "",
      ),
      h("td", { class: "mono" }, l.transactionId || "—"),
      h(
        "td",
        {},
        h("div", { class: "reason" }, l.reason),
        h("details", {}, h("summary", {}, "original fields"), fieldList(l.fields, l.masked)),
      ),
      num(int(l.deliveries)),
      h("td", {}, l.consumer),
    );
  });
  $("#dlq-body").replaceChildren(
    table(
      [
        "",
        "id",
        "failed",
        "code",
        "transaction_id",
        "reason and fields",
        ["deliveries", "num"],
        "consumer",
      ],
      rows,
      "No dead letters" + ($<HTMLSelectElement>("#dlq-code").value ? " with this code." : "."),
    ),
  );
  const headCell = $("#dlq-body th");
  if (headCell) headCell.replaceChildren(all);
  updateActions();
}

async function loadDeadLetters() {
  dlqLoading = true;
  const code = $<HTMLSelectElement>("#dlq-code").value;
  const params = new URLSearchParams({ reveal: reveal() ? "1" : "0" });
  if (code) params.set("code", code);
  try {
    const result = await getJson<{
      letters: DeadLetterView[];
      scanned: number;
      complete: boolean;
      length: number;
    }>(`/api/dead-letters?${params}`);
    dlqLengthShown = lastView?.dlq.length ?? result.length;
    $("#dlq-info").textContent = `${int(result.length)} dead letters; showing the newest ${
      int(result.letters.length)
    }${code ? ` with code ${code}` : ""}${
      result.complete ? "" : ` (looked at the newest ${int(result.scanned)})`
    }`;
    renderDeadLetters(result.letters);
  } catch (error) {
    $("#dlq-info").textContent = `Cannot list dead letters: ${(error as Error).message}`;
  } finally {
    dlqLoading = false;
  }
}

/** Opens the confirmation dialog; resolves to whether the user confirmed. */
function confirmDialog(title: string, text: string, ok: string): Promise<boolean> {
  const dialog = $<HTMLDialogElement>("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = ok;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), {
      once: true,
    });
  });
}

const OUTCOME_WORDS: Record<LetterOutcome["kind"], string> = {
  replayed: "replayed",
  purged: "purged",
  processed: "already counted (removed, not replayed)",
  gone: "already gone",
  unknown: "unknown",
  skipped: "skipped",
};

async function act(action: "replay" | "purge") {
  const ids = [...selected];
  if (ids.length === 0) return;
  const n = ids.length === 1 ? "1 dead letter" : `${ids.length} dead letters`;
  const confirmed = await confirmDialog(
    action === "replay" ? `Replay ${n}?` : `Purge ${n}?`,
    action === "replay"
      ? `Their original fields are added to ${lastView?.stream ?? "the stream"} again and the ` +
        "dead letters removed, one atomic step each. A payment already counted is only removed."
      : "They are deleted for good: their payments will not be processed.",
    action === "replay" ? "Replay" : "Purge",
  );
  if (!confirmed) return;
  const result = $("#dlq-result");
  try {
    const answer = await getJson<{
      outcomes: LetterOutcome[];
      counts: Partial<Record<LetterOutcome["kind"], number>>;
    }>(`/api/dead-letters/${action}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ids }),
    });
    result.className = "result ok";
    result.textContent = Object.entries(answer.counts)
      .map(([kind, count]) => `${count} ${OUTCOME_WORDS[kind as LetterOutcome["kind"]]}`)
      .join(", ");
    selected.clear();
  } catch (error) {
    result.className = "result bad";
    result.textContent = `${action} failed: ${(error as Error).message}`;
  }
  await loadDeadLetters();
}

// ---------------------------------------------------------------------------------------------
// Lookup

let lastLookup = "";

function deliveryText(s: StreamSighting): Child[] {
  if (s.delivery === "pending" && s.pending) {
    return [
      h("span", { class: "badge pending" }, "pending"),
      ` on ${s.pending.consumer} for ${
        duration(s.pending.idleMs)
      }, delivered ${s.pending.deliveries}×`,
    ];
  }
  return [
    h("span", { class: `badge ${s.delivery === "unknown" ? "queued" : s.delivery}` }, s.delivery),
  ];
}

function section(title: string, ...kids: Child[]) {
  return h("div", { class: "lookup-section" }, h("h3", {}, title), ...kids);
}

function renderLookup(r: PaymentLookup) {
  const parts: HTMLElement[] = [
    h(
      "div",
      { class: "lookup-head", "data-state": r.state },
      h("span", { class: `badge ${r.state}`, id: "lookup-state" }, r.state.replace("_", " ")),
      r.duplicates > 0
        ? h("span", { class: "badge duplicate" }, `duplicate ×${r.duplicates}`)
        : null,
      h("span", { class: "summary" }, r.summary),
    ),
  ];
  if (r.mark) {
    parts.push(section(
      "Idempotency mark",
      h(
        "dl",
        { class: "fields" },
        h("dt", {}, r.mark.key),
        h("dd", {}, r.mark.value),
        h("dt", {}, "expires in"),
        h("dd", {}, r.mark.ttlMs === null ? "never" : duration(r.mark.ttlMs)),
      ),
    ));
  }
  if (r.entries.length > 0) {
    parts.push(section(
      "Stream entries",
      table(
        ["id", "delivery", "fields"],
        r.entries.map((s) =>
          h(
            "tr",
            { "data-entry": s.id },
            h(
              "td",
              { class: "mono" },
              s.id,
              s.counted ? h("div", { class: "muted" }, "counted it") : null,
            ),
            h("td", {}, ...deliveryText(s)),
            h("td", {}, fieldList(s.fields, s.masked)),
          )
        ),
      ),
    ));
  }
  if (r.confirmations.length > 0) {
    parts.push(section(
      "Confirmations",
      table(
        ["stream", "id", "status", ["amount", "num"], "at", "error"],
        r.confirmations.map((c) =>
          h(
            "tr",
            { "data-confirmation": c.id },
            h("td", { class: "mono" }, c.stream),
            h("td", { class: "mono" }, c.id),
            h(
              "td",
              {},
              h(
                "span",
                { class: `badge ${c.status === "rejected" ? "dead_lettered" : c.status}` },
                c.status,
              ),
            ),
            num(c.processedAmount),
            h("td", {}, time(c.timestamp)),
            h("td", {}, c.errorCode ? `${c.errorCode} ${c.errorMessage ?? ""}` : ""),
          )
        ),
      ),
    ));
  }
  if (r.deadLetters.length > 0) {
    parts.push(section(
      "Dead letters",
      ...r.deadLetters.map((l) =>
        h(
          "div",
          { "data-letter": l.id },
          h("span", { class: "badge dead_lettered" }, String(l.errorCode)),
          ` ${l.codeName ?? ""} · ${l.reason} · failed ${time(l.failedAt)} on ${l.consumer} · `,
          h("span", { class: "mono" }, l.id),
          fieldList(l.fields, l.masked),
        )
      ),
    ));
  }
  if (r.ledger !== undefined) {
    const row = r.ledger;
    parts.push(section(
      "Ledger",
      row === null ? h("p", { class: "muted" }, "not in the ledger") : h(
        "dl",
        { class: "fields" },
        ...Object.entries(row).flatMap((
          [k, v],
        ) => [h("dt", {}, k), h("dd", {}, v === null ? "—" : String(v))]),
      ),
    ));
  }
  parts.push(section(
    "Searched",
    h("ul", { class: "searched" }, ...r.searched.map((s) => h("li", {}, s))),
    ...r.notes.map((n) => h("p", { class: "muted" }, n)),
    h("p", { class: "muted" }, `in ${dec(r.durationMs, 1)} ms`),
  ));
  $("#lookup-result").replaceChildren(...parts);
}

async function lookup(tx: string) {
  lastLookup = tx;
  const out = $("#lookup-result");
  out.replaceChildren(h("p", { class: "muted" }, "looking…"));
  try {
    const params = new URLSearchParams({ tx, reveal: reveal() ? "1" : "0" });
    renderLookup(await getJson<PaymentLookup>(`/api/lookup?${params}`));
  } catch (error) {
    out.replaceChildren(h("p", { class: "error" }, `Lookup failed: ${(error as Error).message}`));
  }
}

// ---------------------------------------------------------------------------------------------
// Start

function startDashboard() {
  const charts = new Charts();
  const events = new EventSource("/api/events");
  events.addEventListener("init", (e) => {
    const init = JSON.parse((e as MessageEvent).data) as {
      history: HistoryPoint[];
      view?: DashboardView;
      intervalMs: number;
      auth: boolean;
      historyPoints: number;
    };
    $("#logout").hidden = !init.auth;
    lastPoint = init.history.at(-1);
    charts.reset(init.history, init.historyPoints);
    if (init.view) render(init.view);
  });
  events.addEventListener("sample", (e) => {
    const sample = JSON.parse((e as MessageEvent).data) as SampleEvent;
    lastPoint = sample.point;
    charts.add(sample.point);
    render(sample.view);
  });
  events.addEventListener("error", () => {
    const status = $("#status");
    status.dataset.state = "offline";
    status.textContent = "dashboard unreachable: reconnecting…";
    if (events.readyState === EventSource.CLOSED) {
      // Closed for good (401 after a restart forgot the session): log in again.
      fetch("/api/history").then((r) => {
        if (r.status === 401) location.href = "/login";
      }).catch(() => {});
    }
  });

  $("#dlq-refresh").addEventListener("click", () => loadDeadLetters());
  $("#dlq-code").addEventListener("change", () => {
    selected.clear();
    loadDeadLetters();
  });
  $("#dlq-replay").addEventListener("click", () => act("replay"));
  $("#dlq-purge").addEventListener("click", () => act("purge"));
  $("#lookup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const tx = $<HTMLInputElement>("#lookup-tx").value.trim();
    if (tx) lookup(tx);
  });
  $("#reveal").addEventListener("change", () => {
    loadDeadLetters();
    if (lastLookup) lookup(lastLookup);
  });
  loadDeadLetters();
}

if (document.body.classList.contains("login")) {
  $("#login-failed").hidden = !new URLSearchParams(location.search).has("failed");
} else {
  startDashboard();
}
