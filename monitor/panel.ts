/**
 * What a panel of the monitor is (a titled table of rows), the contract every panel builder fills
 * (`panels.ts`, `ledger_panel.ts`) and `render.ts` draws.
 * @module
 */
import { int } from "./format.ts";

/** Cell alignment. */
export type Align = "left" | "right";

/** One row of a panel; `alert` rows are highlighted (stalled consumers). */
export interface Row {
  cells: string[];
  alert?: boolean;
}

/** A titled table. The first column is the flexible one (shortened in the middle when narrow). */
export interface Panel {
  id: "processor" | "stream" | "groups" | "responses" | "dlq" | "latency" | "lists" | "ledger";
  /** Header cells; the first one is the panel's title. */
  head: string[];
  align: Align[];
  rows: Row[];
  /** The single row shown when there are no rows. */
  empty: string;
  /** Fixed panels are shown whole; the others share the remaining height. */
  fixed: boolean;
  /** How a too long first cell is shortened: in the middle (names ending in a pid) or at the end. */
  cut: "middle" | "end";
  /** The row that stands for rows cut for lack of room. */
  more: (hidden: Row[]) => Row;
}

/** The usual stand-in for rows cut for lack of room: `… N more`. */
export const moreRows = (hidden: Row[]): Row => ({ cells: [`… ${int(hidden.length)} more`] });
