/**
 * One-line log records on stderr: `2026-11-21T10:00:00.000Z consumer Redis is back`.
 * Quiet with `LOG_LEVEL=warn` (tests), everything with `LOG_LEVEL=debug`; commands refuse other
 * values at start ({@link logLevelProblem}).
 * @module
 */

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

const isLevel = (name: string): name is Level => Object.hasOwn(LEVELS, name);

/**
 * What is wrong with `LOG_LEVEL` (`value`), as one line, or undefined when it is unset, empty or
 * one of the levels (in any case).
 */
export function logLevelProblem(value = Deno.env.get("LOG_LEVEL")): string | undefined {
  if (!value || isLevel(value.toLowerCase())) return undefined;
  return `Bad LOG_LEVEL=${JSON.stringify(value)}: use debug, info, warn or error`;
}

function threshold(): number {
  const wanted = (Deno.env.get("LOG_LEVEL") || "info").toLowerCase();
  return isLevel(wanted) ? LEVELS[wanted] : LEVELS.info;
}

/** A logger for one component. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Creates a logger whose lines start with the time and `component`. */
export function createLogger(component: string): Logger {
  const min = threshold();
  const write = (level: Level, message: string) => {
    if (LEVELS[level] < min) return;
    console.error(`${new Date().toISOString()} ${component} ${level}: ${message}`);
  };
  return {
    debug: (m) => write("debug", m),
    info: (m) => write("info", m),
    warn: (m) => write("warn", m),
    error: (m) => write("error", m),
  };
}

/** The message of anything thrown, on one line. */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}
