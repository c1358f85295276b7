/**
 * The outbox append that keeps only the rows of entries a batch really applies (see
 * `lua/outbox_add.lua`): queued in the batch's MULTI just before `process_batch`.
 * @module
 */
import { LuaScript } from "@fastpix/infra";
import type { OutboxRow } from "./types.ts";
import type { EncodedBatch } from "./write_rows.ts";

const outboxAddScript = LuaScript.fromFile("outbox_add", "./lua/outbox_add.lua", import.meta.url);

/** Where a batch's rows go, and whose pending entries they belong to. */
export interface OutboxTarget {
  outbox: string;
  backlog: string;
  /** The payment stream and its consumer group. */
  stream: string;
  group: string;
}

/** The arguments of `.eval(...)` that appends `encoded` (whose rows are `rows`) to the outbox. */
export function outboxAddEval(
  target: OutboxTarget,
  encoded: EncodedBatch,
  rows: readonly OutboxRow[],
): [string, number, ...(string | number)[]] {
  return [
    outboxAddScript.source,
    3,
    target.outbox,
    target.backlog,
    target.stream,
    target.group,
    encoded.rows,
    encoded.payments,
    encoded.untracked,
    encoded.metrics,
    ...rows.map((r) => r[0]),
  ];
}

/** What the append did: its outbox entry (none when no row was kept), rows kept, backlog after. */
export function parseOutboxAdd(
  reply: unknown,
): { id: string | undefined; rows: number; backlog: number } {
  const [id, rows, backlog] = (reply ?? []) as [string | null, number, number];
  return {
    id: typeof id === "string" ? id : undefined,
    rows: Number(rows),
    backlog: Number(backlog),
  };
}
