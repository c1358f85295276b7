/**
 * Fixtures of the PostgreSQL fault tests: bounded waits for child processes.
 * @module
 */
import type { ChildTool } from "./_helpers.ts";

/**
 * Waits up to `ms` for `child` to exit; one still running then is SIGKILLed and reported with
 * `timedOut` (its output so far included), so a test fails instead of hanging.
 */
export async function finishedWithin(
  child: ChildTool,
  ms: number,
): Promise<{ code: number; output: string; timedOut: boolean; seconds: number }> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = await Promise.race([
    child.finished().then(() => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), ms)),
  ]);
  clearTimeout(timer);
  const seconds = (Date.now() - started) / 1000;
  if (timedOut) child.kill("SIGKILL");
  return { ...await child.finished(), timedOut, seconds };
}
