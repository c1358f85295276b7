/**
 * What each panel of the monitor shows, as rows of text built from a {@link Snapshot}. Layout and
 * drawing are in `render.ts`; this module decides content only.
 * @module
 */
import type { Snapshot } from "./snapshot.ts";
import { brl, bytes, duration, int, ms } from "./format.ts";
import { ledgerPanel } from "./ledger_panel.ts";
import { moreRows, type Panel, type Row } from "./panel.ts";

export type { Align, Panel, Row } from "./panel.ts";

/** What the panels need besides the snapshot. */
export interface PanelContext {
  /** `processed_count` per second over the rate window (undefined until known). */
  rate?: number;
  rateWindowMs: number;
}

const dash = "—";

function processorPanel(s: Snapshot, ctx: PanelContext): Panel {
  const p = s.processor;
  const consumers = p.groupExists
    ? `${p.activeConsumers}/${p.consumers} active` +
      (p.stalledConsumers > 0 ? `, ${p.stalledConsumers} stalled` : "")
    : "no group";
  const rate = ctx.rate === undefined ? dash : `${int(ctx.rate)}/s`;
  return {
    id: "processor",
    head: ["Processor", s.group],
    align: ["left", "right"],
    rows: [
      { cells: ["processed", int(s.counters.processed)] },
      { cells: ["total BRL", brl(s.counters.totalBrl)] },
      { cells: [`rate (${duration(ctx.rateWindowMs)})`, rate] },
      { cells: ["pending", p.groupExists ? int(p.pending) : dash] },
      { cells: ["consumers", consumers], alert: p.stalledConsumers > 0 },
      { cells: ["group lag", p.lag === null ? dash : int(p.lag)] },
      {
        cells: ["redis uptime", s.server ? duration(s.server.uptimeSeconds * 1000) : dash],
      },
    ],
    empty: "",
    fixed: true,
    cut: "end",
    more: moreRows,
  };
}

function streamPanel(s: Snapshot): Panel {
  const info = s.streamInfo;
  const rows: Row[] = info === null ? [{ cells: ["does not exist yet", ""], alert: true }] : [
    { cells: ["length", int(info.length)] },
    { cells: ["last generated", info.lastGeneratedId] },
    { cells: ["first entry", info.firstEntryId ?? dash] },
    { cells: ["last entry", info.lastEntryId ?? dash] },
    { cells: ["memory", info.memoryBytes === null ? dash : bytes(info.memoryBytes)] },
  ];
  return {
    id: "stream",
    head: ["Stream", s.stream],
    align: ["left", "right"],
    rows,
    empty: "",
    fixed: true,
    cut: "end",
    more: moreRows,
  };
}

function groupsPanel(s: Snapshot): Panel {
  const rows: Row[] = [];
  for (const g of s.groups) {
    rows.push({ cells: [g.name, int(g.pending), "", g.lag === null ? dash : `lag ${int(g.lag)}`] });
    // Stalled consumers first, so cutting rows for room never hides them.
    const consumers = [...g.consumers].sort((a, b) => Number(b.stalled) - Number(a.stalled));
    for (const c of consumers) {
      rows.push({
        cells: [
          `└ ${c.name}`,
          int(c.pending),
          duration(c.idleMs),
          c.stalled ? "STALLED" : c.idleMs <= s.idleThresholdMs ? "active" : "idle",
        ],
        alert: c.stalled,
      });
    }
  }
  return {
    id: "groups",
    head: ["Groups / consumers", "pending", "idle", "state"],
    align: ["left", "right", "right", "left"],
    rows,
    empty: s.streamInfo === null ? "no stream, no groups" : "no consumer groups",
    fixed: false,
    cut: "middle",
    // Stalled consumers stay visible even when rows are cut: say how many were hidden.
    more: (hidden) => {
      const stalled = hidden.filter((r) => r.alert).length;
      return {
        cells: [`… ${int(hidden.length)} more` + (stalled > 0 ? ` (${stalled} stalled)` : "")],
        alert: stalled > 0,
      };
    },
  };
}

function responsesPanel(s: Snapshot): Panel {
  const r = s.responses;
  const scanning = r.scanComplete ? "" : ", scanning";
  return {
    id: "responses",
    head: [`Responses (${int(r.streams.length)}${scanning})`, "length", "last id"],
    align: ["left", "right", "right"],
    rows: r.streams.map((x) => ({ cells: [`backend ${x.backendId}`, int(x.length), x.lastId] })),
    empty: `no ${r.prefix}* streams`,
    fixed: false,
    cut: "middle",
    more: moreWithTotal,
  };
}

/** The row for hidden rows whose second cell is a length: how many, and their total length. */
function moreWithTotal(hidden: Row[]): Row {
  const total = hidden.reduce((n, h) => n + (Number(h.cells[1].replaceAll(",", "")) || 0), 0);
  return { cells: [`… ${int(hidden.length)} more`, int(total)] };
}

function dlqPanel(s: Snapshot): Panel {
  const d = s.dlq;
  return {
    id: "dlq",
    head: [`Dead letters ${int(d.length)}`, d.sampled > 0 ? `of last ${int(d.sampled)}` : ""],
    align: ["left", "right"],
    rows: d.topCodes.map((c) => ({
      cells: [`${c.code} ${c.name?.toLowerCase().replaceAll("_", " ") ?? ""}`.trim(), int(c.count)],
    })),
    empty: "none",
    fixed: false,
    cut: "end",
    more: moreRows,
  };
}

/**
 * Each consumer's latency since its start, and under it over the last seconds (`└ last 10 s`,
 * dashes when nothing was confirmed then) when the consumer publishes that window.
 */
function latencyPanel(s: Snapshot): Panel {
  const rows: Row[] = [];
  for (const l of s.latency) {
    rows.push({ cells: [l.consumer, ms(l.p50), ms(l.p95), ms(l.p99), ms(l.max)] });
    const w = l.window;
    if (w === undefined) continue;
    const label = `└ last ${int(w.seconds)} s`;
    rows.push({
      cells: w.count === 0
        ? [label, dash, dash, dash, dash]
        : [label, ms(w.p50), ms(w.p95), ms(w.p99), ms(w.max)],
    });
  }
  return {
    id: "latency",
    head: ["Latency ms", "p50", "p95", "p99", "max"],
    align: ["left", "right", "right", "right", "right"],
    rows,
    empty: "no consumer has published latency yet",
    fixed: false,
    cut: "middle",
    more: moreRows,
  };
}

function listsPanel(s: Snapshot): Panel {
  return {
    id: "lists",
    head: ["Lists", "length"],
    align: ["left", "right"],
    rows: s.lists.map((l) => ({ cells: [l.key, int(l.length)] })),
    empty: "none",
    fixed: false,
    cut: "middle",
    more: moreWithTotal,
  };
}

/** The panels of `snapshot`, in reading order: left column first, then the right one. */
export function buildPanels(snapshot: Snapshot, ctx: PanelContext): {
  left: Panel[];
  right: Panel[];
} {
  return {
    left: [
      processorPanel(snapshot, ctx),
      streamPanel(snapshot),
      dlqPanel(snapshot),
      listsPanel(snapshot),
    ],
    right: [
      groupsPanel(snapshot),
      responsesPanel(snapshot),
      latencyPanel(snapshot),
      ...(snapshot.ledger ? [ledgerPanel(snapshot.ledger)] : []),
    ],
  };
}
