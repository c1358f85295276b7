/**
 * The live screen: refresh a snapshot every interval and redraw it with `log-update` on the
 * terminal's alternate screen; `q` or Ctrl+C (stdin in raw mode), SIGINT, SIGTERM or SIGHUP end it
 * and give the terminal back as it was. Redis going away never ends it: the status line says so
 * and it keeps retrying.
 * @module
 */
import process from "node:process";
import { createLogUpdate } from "log-update";
import ansiEscapes from "ansi-escapes";
import { createRedis, type Logger } from "@fastpix/infra";
import { type Snapshot, snapshot, type SnapshotOptions, SnapshotState } from "./snapshot.ts";
import { RateWindow } from "./rate.ts";
import { renderScreen } from "./render.ts";

/** Options of {@link runTui}. */
export interface TuiOptions extends Omit<SnapshotOptions, "state" | "completeScan"> {
  intervalMs: number;
  rateWindowMs: number;
  /** `COUNT` of each `SCAN` step. */
  scanCount: number;
}

/** Outage lines would scribble over the screen: the status line reports outages instead. */
const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const QUIT_KEYS = new Set([0x71, 0x51, 0x03, 0x04]); // q Q Ctrl+C Ctrl+D

function terminalSize(): { columns: number; rows: number } {
  try {
    return Deno.consoleSize();
  } catch {
    return { columns: 80, rows: 24 };
  }
}

/** Runs the live monitor until the user quits. */
export async function runTui(options: TuiOptions): Promise<void> {
  const redis = createRedis(options.redisUrl, {
    name: "fastpix-monitor",
    failFast: true,
    logger: SILENT,
  });
  const state = new SnapshotState(options.responsePrefix, options.scanCount, {
    listBase: options.listBase,
  });
  const rate = new RateWindow(options.rateWindowMs);
  const draw = createLogUpdate(process.stdout);
  const write = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text));

  let stopped = false;
  let wake = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  const redraw = () => wake();
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", stop],
    ["SIGTERM", stop],
    ["SIGHUP", stop],
    ["SIGWINCH", redraw],
  ];
  for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);
  const raw = Deno.stdin.isTerminal();
  if (raw) Deno.stdin.setRaw(true);
  const keys = readKeys(stop);
  write(ansiEscapes.enterAlternativeScreen + ansiEscapes.clearScreen);

  let lastGood: Snapshot | undefined;
  let lastSize = "";
  try {
    while (!stopped) {
      const started = Date.now();
      const snap = await snapshot(redis, { ...options, state });
      if (stopped) break;
      if (snap.available) {
        lastGood = snap;
        rate.add(performance.now(), snap.counters.processed);
      }
      const size = terminalSize();
      const sizeKey = `${size.columns}x${size.rows}`;
      if (sizeKey !== lastSize) {
        // A resized terminal: start from a clean screen instead of patching the old frame.
        draw.clear();
        write(ansiEscapes.clearScreen);
        lastSize = sizeKey;
      }
      draw(renderScreen(snap, {
        columns: size.columns,
        // log-update ends every frame with a newline: one row stays for the cursor.
        rows: size.rows - 1,
        color: Deno.env.get("NO_COLOR") === undefined,
        intervalMs: options.intervalMs,
        rate: rate.perSecond(),
        rateWindowMs: options.rateWindowMs,
        lastGood,
      }));
      const wait = Math.max(0, options.intervalMs - (Date.now() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    draw.done();
    write(ansiEscapes.exitAlternativeScreen + ansiEscapes.cursorShow);
    if (raw) Deno.stdin.setRaw(false);
    for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
    redis.disconnect();
    keys.cancel();
  }
}

/** Reads key presses from stdin; calls `onQuit` on q or Ctrl+C. Returns a handle to stop reading. */
function readKeys(onQuit: () => void): { cancel(): void } {
  if (!Deno.stdin.isTerminal()) return { cancel() {} };
  const reader = Deno.stdin.readable.getReader();
  (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return onQuit();
        if (value.some((byte) => QUIT_KEYS.has(byte))) return onQuit();
      }
    } catch { /* cancelled */ }
  })();
  return { cancel: () => void reader.cancel().catch(() => {}) };
}
