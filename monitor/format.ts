/**
 * Short, exact text for the monitor's cells: grouped integers, BRL, durations, bytes. Numbers are
 * written by `@fastpix/pix`'s formatter, as in every other tool.
 * @module
 */
import { formatCount, formatDecimal, formatMs } from "@fastpix/pix";

/** `1234567` → `1,234,567`. */
export function int(value: number): string {
  return formatCount(value);
}

/** An exact 2-place decimal string with grouped thousands: `50007718.10` → `50,007,718.10`. */
export function brl(decimal: string): string {
  return formatDecimal(decimal);
}

/** A duration: `850 ms`, `12.0 s`, `3m 05s`, `2h 03m`, `4d 02h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const two = (n: number) => String(Math.floor(n)).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${two((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${two((s % 86400) / 3600)}h`;
}

/** A byte count: `512 B`, `1.5 KB`, `12.3 MB` (powers of 1024). */
export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Milliseconds with precision that suits the size: `0.42`, `12.5`, `340`. */
export function ms(value: number): string {
  return formatMs(value);
}

/** Shortens `text` to `width` by cutting its middle, so both ends (names, pids) stay readable. */
export function fitMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return "…".slice(0, width);
  const tail = Math.floor((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}
