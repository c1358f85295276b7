/**
 * Drawing snapshots as text with `cli-table3`: a full screen that fits a given size (two columns of
 * borderless panels sharing the height, header and status line), and a plain listing of every
 * panel as boxed tables for `--once`.
 * @module
 */
import Table from "cli-table3";
import { Chalk } from "chalk";
import type { Snapshot } from "./snapshot.ts";
import { buildPanels, type Panel, type PanelContext, type Row } from "./panels.ts";
import { duration, fitMiddle } from "./format.ts";

/** The screen's size and what is drawn besides the snapshot. */
export interface ScreenView extends PanelContext {
  columns: number;
  rows: number;
  /** Use colours and inverse video (a terminal); plain text otherwise. */
  color: boolean;
  intervalMs: number;
  /** The last snapshot read while Redis answered: shown, marked stale, during an outage. */
  lastGood?: Snapshot;
}

/** Below this width the panels are stacked in one column. */
const TWO_COLUMNS_FROM = 72;
const SEPARATOR = " │ ";

const BORDERLESS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: " ",
};
/** Boxed, without a rule between rows. */
const BOXED = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" };

type Cell = string | { content: string; colSpan: number };

/** Cells of `row` for a table of `n` columns (a one-cell row spans them all). */
function cellsOf(row: Row, n: number): Cell[] {
  if (row.cells.length === 1 && n > 1) return [{ content: row.cells[0], colSpan: n }];
  return Array.from({ length: n }, (_, i) => row.cells[i] ?? "");
}

/** Column widths for `panel` in `width` characters: the first column takes what the others leave. */
function columnWidths(panel: Panel, rows: Row[], width: number): number[] {
  const n = panel.head.length;
  const natural = Array.from({ length: n }, (_, i) =>
    Math.max(
      panel.head[i].length,
      ...rows.filter((r) => r.cells.length > 1).map((r) => (r.cells[i] ?? "").length),
    ));
  const widths = [0, ...natural.slice(1)];
  const room = () => width - (n - 1) - widths.slice(1).reduce((a, b) => a + b, 0);
  // Narrow: take from the widest other column until the first one has a useful width.
  while (room() < Math.min(12, natural[0]) && widths.slice(1).some((w) => w > 4)) {
    const i = widths.indexOf(Math.max(...widths.slice(1)), 1);
    widths[i]--;
  }
  widths[0] = Math.max(1, room());
  return widths;
}

/**
 * Draws `panel` as at most `maxLines` lines of exactly `width` characters (header included); rows
 * that do not fit become the panel's "… N more" row.
 */
export function drawPanel(
  panel: Panel,
  options: { width: number; maxLines: number; chalk: InstanceType<typeof Chalk> },
): string[] {
  const { width, maxLines, chalk } = options;
  if (maxLines <= 0) return [];
  let rows = panel.rows.length > 0 ? panel.rows : [{ cells: [panel.empty] }];
  if (1 + rows.length > maxLines) {
    const keep = Math.max(0, maxLines - 2);
    rows = maxLines >= 2 ? [...rows.slice(0, keep), panel.more(rows.slice(keep))] : [];
  }
  const widths = columnWidths(panel, rows, width);
  const n = panel.head.length;
  const table = new Table({
    chars: BORDERLESS,
    head: panel.head.map((h, i) => i === 0 ? fitMiddle(h, widths[0]) : h),
    colWidths: widths,
    colAligns: panel.align,
    wordWrap: false,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows) {
    const cells = row.cells.length > 1
      ? [
        panel.cut === "middle" ? fitMiddle(row.cells[0], widths[0]) : row.cells[0],
        ...row.cells.slice(1),
      ]
      : row.cells;
    table.push(cellsOf({ cells }, n));
  }
  const lines = table.toString().split("\n").slice(0, maxLines).map((l) =>
    l.padEnd(width).slice(0, width)
  );
  return lines.map((line, i) => {
    if (i === 0) return chalk.inverse.bold(line);
    return rows[i - 1]?.alert ? chalk.red.bold(line) : line;
  });
}

/** Heights for panels in a column of `height` lines: fixed panels whole, the others share. */
export function allocate(panels: Panel[], height: number): number[] {
  const want = panels.map((p) => 1 + Math.max(1, p.rows.length));
  const got = panels.map((p, i) => (p.fixed ? want[i] : 0));
  let left = height - got.reduce((a, b) => a + b, 0);
  // Every other panel first gets its header and one row, in order, while there is room.
  for (let i = 0; i < panels.length; i++) {
    if (panels[i].fixed) continue;
    const give = Math.min(2, want[i], Math.max(0, left));
    got[i] = give;
    left -= give;
  }
  // Then one line at a time, round robin, to the panels that have more rows.
  while (left > 0) {
    let gave = false;
    for (let i = 0; i < panels.length && left > 0; i++) {
      if (got[i] >= 2 && got[i] < want[i]) {
        got[i]++;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return got;
}

function drawColumn(
  panels: Panel[],
  width: number,
  height: number,
  chalk: InstanceType<typeof Chalk>,
): string[] {
  const heights = allocate(panels, height);
  const lines = panels.flatMap((p, i) => drawPanel(p, { width, maxLines: heights[i], chalk }));
  while (lines.length < height) lines.push(" ".repeat(width));
  return lines.slice(0, height);
}

/** Cuts `text` to `width` columns (an ellipsis marks the cut) and pads it. */
function fit(text: string, width: number): string {
  const cut = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
  return cut.padEnd(width);
}

const clock = (iso: string) => new Date(iso).toTimeString().slice(0, 8);

/**
 * The status line: what is wrong, or how the refresh goes. Without `intervalMs` (a one-off
 * snapshot) it neither mentions retrying nor keys.
 */
export function statusLine(
  snapshot: Snapshot,
  intervalMs?: number,
): { text: string; alert: boolean } {
  const every = intervalMs === undefined ? "" : ` · retrying every ${duration(intervalMs)}`;
  if (!snapshot.available) {
    // On screen the header already names the URL: keep the line short enough for 80 columns.
    const where = intervalMs === undefined ? ` at ${snapshot.redisUrl}` : "";
    return { text: `Redis unavailable${where}: ${snapshot.error}${every}`, alert: true };
  }
  if (snapshot.streamInfo === null) {
    return { text: `Stream ${snapshot.stream} does not exist yet${every}`, alert: true };
  }
  if (snapshot.notes.length > 0) return { text: snapshot.notes.join(" · "), alert: true };
  const read = `read in ${Math.round(snapshot.durationMs)} ms`;
  const server = snapshot.server ? ` · Redis ${snapshot.server.version}` : "";
  const text = intervalMs === undefined
    ? `${read} (${snapshot.rounds} round${snapshot.rounds === 1 ? "" : "s"})${server}`
    : `q quits · every ${duration(intervalMs)} · ${read}${server}`;
  return { text, alert: false };
}

/** The title line: what is watched, with the clock always at the right end. */
function headerLine(snapshot: Snapshot, columns: number, stale: string): string {
  const time = ` ${clock(snapshot.at)}${stale}`;
  const watched = ` · ${snapshot.redisUrl} · ${snapshot.stream}/${snapshot.group}`;
  const room = Math.max(0, columns - time.length);
  const long = `PIX Payment System Monitor${watched}`;
  const title = long.length <= room ? long : `PIX monitor${watched}`;
  return (fit(title, room) + time).slice(0, columns).padEnd(columns);
}

/** The full screen: exactly `view.rows` lines of `view.columns` characters. */
export function renderScreen(snapshot: Snapshot, view: ScreenView): string {
  const chalk = new Chalk({ level: view.color ? 1 : 0 });
  const { columns, rows } = view;
  const shown = !snapshot.available && view.lastGood ? view.lastGood : snapshot;
  const stale = shown !== snapshot ? ` (data from ${clock(shown.at)})` : "";
  const header = headerLine(snapshot, columns, stale);
  const status = statusLine(snapshot, view.intervalMs);
  const ctx: PanelContext = {
    rate: snapshot.available ? view.rate : undefined,
    rateWindowMs: view.rateWindowMs,
  };
  const { left, right } = buildPanels(shown, ctx);
  const body = Math.max(0, rows - 2);
  let bodyLines: string[];
  if (columns >= TWO_COLUMNS_FROM) {
    const leftWidth = Math.min(46, Math.max(34, Math.floor((columns - SEPARATOR.length) * 0.4)));
    const rightWidth = columns - leftWidth - SEPARATOR.length;
    const l = drawColumn(left, leftWidth, body, chalk);
    const r = drawColumn(right, rightWidth, body, chalk);
    bodyLines = l.map((line, i) => line + chalk.dim(SEPARATOR) + r[i]);
  } else {
    // One column: the consumers right after the processor status, the details after.
    const [processor, stream, dlq, lists] = left;
    const [groups, responses, latency] = right;
    const order = [processor, groups, stream, responses, dlq, latency, lists];
    bodyLines = drawColumn(order, columns, body, chalk);
  }
  const lines = [
    chalk.bold.inverse(header),
    ...bodyLines,
    status.alert ? chalk.red.bold(fit(status.text, columns)) : chalk.dim(fit(status.text, columns)),
  ];
  return lines.slice(0, rows).join("\n");
}

/** Every panel in full as boxed tables, one under the other, with no colours (for `--once`). */
export function renderPlain(snapshot: Snapshot, ctx: PanelContext): string {
  const { left, right } = buildPanels(snapshot, ctx);
  const out = [
    `PIX Payment System Monitor · ${snapshot.redisUrl} · ${snapshot.stream}/${snapshot.group} · ${snapshot.at}`,
    statusLine(snapshot).text,
  ];
  if (snapshot.available) {
    for (const panel of [...left, ...right]) {
      const table = new Table({
        chars: BOXED,
        head: panel.head,
        colAligns: panel.align,
        style: { head: [], border: [] },
      });
      const rows = panel.rows.length > 0 ? panel.rows : [{ cells: [panel.empty] }];
      // No spanning cells here: cli-table3 draws broken rules above them in this style.
      for (const row of rows) {
        table.push(panel.head.map((_, i) => row.cells[i] ?? ""));
      }
      out.push(table.toString());
    }
  }
  return out.join("\n");
}
