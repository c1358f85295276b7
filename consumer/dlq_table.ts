/**
 * `deno task dlq list` as a text table, written page by page as the pages are read: time and memory
 * grow linearly with the rows (cli-table3 lays a table out in time quadratic in its rows: 50,000
 * dead letters took minutes). Each page is aligned on the widest cell seen so far, so a wider cell on
 * a later page shifts the columns from there on (as psql does with FETCH_COUNT).
 * @module
 */
import type { DeadLetter } from "./dlq.ts";

const HEAD = [
  "id",
  "original id",
  "transaction_id",
  "backend",
  "amount",
  "code",
  "deliveries",
  "reason",
];

/** `text` on one line (control characters as spaces), cut to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  // deno-lint-ignore no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f]/g, " ");
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

function cells(d: DeadLetter): string[] {
  return [
    clip(d.id, 41),
    clip(d.originalId, 41),
    clip(d.fields?.transaction_id ?? "", 38),
    clip(d.fields?.backend_id ?? "", 12),
    clip(d.fields?.amount ?? "", 16),
    String(d.errorCode),
    String(d.deliveries),
    clip(d.reason, 70),
  ];
}

const rule = (widths: number[], [left, mid, right]: string) =>
  left + widths.map((w) => "─".repeat(w + 2)).join(mid) + right;
const line = (widths: number[], row: string[]) =>
  "│" + row.map((cell, i) => ` ${cell.padEnd(widths[i])} `).join("│") + "│";

/**
 * Writes `pages` of dead letters as a table, one `write` per page (the header with the first);
 * resolves to the number of rows written. Nothing is written when there are none.
 */
export async function writeDeadLetterTable(
  pages: AsyncIterable<DeadLetter[]>,
  write: (text: string) => Promise<void> | void,
): Promise<number> {
  // Stream ids are at most 19 characters until a millisecond holds 100,000 entries.
  const widths = HEAD.map((h, i) => i < 2 ? 19 : h.length);
  let rows = 0;
  for await (const page of pages) {
    const table = page.map(cells);
    for (const row of table) row.forEach((cell, i) => widths[i] = Math.max(widths[i], cell.length));
    const lines = rows === 0 ? [rule(widths, "┌┬┐"), line(widths, HEAD), rule(widths, "├┼┤")] : [];
    for (const row of table) lines.push(line(widths, row));
    rows += table.length;
    await write(lines.join("\n") + "\n");
  }
  if (rows > 0) await write(rule(widths, "└┴┘") + "\n");
  return rows;
}
