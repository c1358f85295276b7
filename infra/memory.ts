/**
 * Native memory freed after a burst goes back to the OS: glibc keeps what Rust's side of Deno
 * (connections, buffers) frees in its arenas, so a process that once held thousands of
 * connections stays that large for good unless asked to trim. {@link MemoryTrimmer} asks (glibc's
 * `malloc_trim`, through FFI) when resident memory has grown since the last time.
 * @module
 */

type Trim = () => void;

let trim: Trim | null | undefined;

/** glibc's `malloc_trim(0)`, or `null` where there is none (another libc, no FFI permission). */
function loadTrim(): Trim | null {
  if (trim !== undefined) return trim;
  try {
    if (Deno.build.os !== "linux") return trim = null;
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    trim = () => libc.symbols.malloc_trim(0n);
  } catch {
    trim = null;
  }
  return trim;
}

/** Returns memory the process freed to the OS where it can; false where it cannot. */
export function releaseFreedMemory(): boolean {
  const t = loadTrim();
  t?.();
  return t !== null;
}

/**
 * Every `everyMs`, returns freed memory to the OS when resident memory stands `growthBytes` or
 * more above the lowest it was after such a return (a steady process is left alone). A return that
 * frees little makes the next check wait longer (up to 32 times `everyMs`), so a process that
 * really uses the memory is not walked through again and again.
 */
export class MemoryTrimmer {
  #timer?: ReturnType<typeof setTimeout>;
  #floor = Deno.memoryUsage().rss;
  #stopped = false;

  constructor(readonly everyMs = 5000, readonly growthBytes = 32 * 1024 * 1024) {
    if (loadTrim() !== null) this.#schedule(everyMs);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(
      () => this.#schedule(this.check() ? this.everyMs : Math.min(ms * 2, this.everyMs * 32)),
      ms,
    );
    Deno.unrefTimer(this.#timer);
  }

  /** Trims now if resident memory stands high enough; false when a trim freed little. */
  check(): boolean {
    const before = Deno.memoryUsage().rss;
    if (before - this.#floor < this.growthBytes) return true;
    releaseFreedMemory();
    const after = Deno.memoryUsage().rss;
    this.#floor = Math.min(this.#floor, after);
    return before - after >= this.growthBytes / 4;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
