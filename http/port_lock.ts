/**
 * Port sharing on purpose. SO_REUSEPORT lets any process of the same user bind a port already in
 * use, and the kernel then splits connections between them: it cannot tell siblings from strangers.
 * So a process binds alone (no SO_REUSEPORT: a second one gets `AddrInUse`), unless it belongs to a
 * *stack*: one command (`gateway --workers N`, `rinha start`, a benchmark) claims the port with a
 * lock file `fastpix-port-<port>.lock` under the system temp dir holding its pid and a random stack
 * id, checks nothing else listens there, and passes the id to the processes it starts
 * (`--port-stack`), which join only when the lock names their stack. A second, unrelated stack finds
 * the lock of a live pid and stops with one line; a lock left by a dead pid is taken over.
 * @module
 */
import { UserError } from "@fastpix/pix";

/** What a lock file holds. */
export interface PortLockOwner {
  pid: number;
  /** The owner's start time (Linux `/proc/<pid>/stat` field 22), against pid reuse. */
  started?: string;
  stack: string;
  /** Which command holds it (`gateway --workers 4`), for messages. */
  what: string;
  port: number;
}

/** The temp dir: `TMPDIR`, else `/tmp` (`%TEMP%` on Windows). */
function tempDir(): string {
  const dir = Deno.env.get("TMPDIR") ?? Deno.env.get("TEMP") ?? Deno.env.get("TMP") ?? "/tmp";
  return dir.replace(/[/\\]+$/, "");
}

/** Where the lock of `port` lives. */
export function portLockPath(port: number): string {
  return `${tempDir()}/fastpix-port-${port}.lock`;
}

/** A process's start time, or `undefined` when it does not exist (or /proc is not there). */
function startTimeOf(pid: number): string | undefined | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // No such process, unless there is no /proc at all.
      try {
        Deno.statSync("/proc/self/stat");
        return null;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count after its end.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/** Whether the owner of a lock is still running (a reused pid is not the owner). */
export function ownerAlive(owner: PortLockOwner): boolean {
  const started = startTimeOf(owner.pid);
  if (started === null) return false;
  if (started === undefined || owner.started === undefined) return true; // cannot tell: assume so
  return started === owner.started;
}

/** The lock of `port`, if there is one that parses. */
export function readPortLock(port: number): PortLockOwner | undefined {
  try {
    const owner = JSON.parse(Deno.readTextFileSync(portLockPath(port)));
    return typeof owner?.pid === "number" && typeof owner?.stack === "string" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** A claimed port: its stack id for the processes to start, and the release. */
export interface PortClaim {
  port: number;
  stack: string;
  /** Removes the lock (if it is still this claim's). */
  release(): void;
}

function heldBy(owner: PortLockOwner): UserError {
  return new UserError(
    `Cannot listen on port ${owner.port}: ${owner.what} (pid ${owner.pid}) holds it for its own ` +
      "processes; stop it or pass another --port",
  );
}

/**
 * Claims `port` for a stack started by this process (`what` names it in messages): takes the lock
 * (over a dead owner's), then checks that nothing listens on `hostname:port` by binding it without
 * SO_REUSEPORT. Throws a {@link UserError} when a live stack holds the lock or the port is in use.
 */
export async function claimPort(port: number, hostname: string, what: string): Promise<PortClaim> {
  const path = portLockPath(port);
  const stack = crypto.randomUUID();
  const started = startTimeOf(Deno.pid) ?? undefined;
  const me: PortLockOwner = { pid: Deno.pid, started, stack, what, port };
  for (let attempt = 0;; attempt++) {
    try {
      const file = Deno.openSync(path, { write: true, createNew: true, mode: 0o644 });
      try {
        file.writeSync(new TextEncoder().encode(JSON.stringify(me)));
      } finally {
        file.close();
      }
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt >= 5) throw error;
      const owner = readPortLock(port);
      if (owner !== undefined && ownerAlive(owner)) throw heldBy(owner);
      if (owner === undefined && attempt === 0) {
        await new Promise((resolve) => setTimeout(resolve, 100)); // maybe being written: look again
        continue;
      }
      try {
        Deno.removeSync(path); // a dead owner's (or unreadable) lock
      } catch { /* removed meanwhile */ }
    }
  }
  const release = () => {
    if (readPortLock(port)?.stack === stack) {
      try {
        Deno.removeSync(path);
      } catch { /* gone */ }
    }
  };
  try {
    Deno.listen({ hostname, port }).close();
  } catch (error) {
    release();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UserError(`Cannot listen on port ${port}: it is in use`);
    }
    throw error;
  }
  return { port, stack, release };
}

/**
 * Checks that `stack` is the live stack holding `port`, for a process about to share it
 * (SO_REUSEPORT). Throws a {@link UserError} otherwise.
 */
export function checkStack(port: number, stack: string): void {
  const owner = readPortLock(port);
  if (owner === undefined || !ownerAlive(owner)) {
    throw new UserError(
      `Cannot share port ${port} with stack ${stack}: no running command holds it ` +
        `(${portLockPath(port)}); start the processes with --workers instead`,
    );
  }
  if (owner.stack !== stack) throw heldBy(owner);
}

/**
 * Calls `onGone` once when the command holding `port` for `stack` is no longer running (its lock
 * gone, another stack's, or its pid dead): a sibling process left behind stops instead of serving
 * on alone. Checks every `everyMs`; returns a function that stops watching.
 */
export function watchStack(
  port: number,
  stack: string,
  onGone: () => void,
  everyMs = 1000,
): () => void {
  const timer = setInterval(() => {
    const owner = readPortLock(port);
    if (owner === undefined || owner.stack !== stack || !ownerAlive(owner)) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
