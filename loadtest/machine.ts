/**
 * The machine a benchmark ran on, recorded with every result so numbers are never read without it.
 * @module
 */

/** CPUs, OS, Deno and the load at the moment of the call. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  os: string;
  deno: string;
  /** 1, 5 and 15-minute load averages, rounded to 2 places. */
  loadAverage: number[];
}

/** Describes this machine now. */
export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = "?";
  try {
    cpuModel = /model name\s*:\s*(.+)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? "?";
  } catch { /* not Linux */ }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    loadAverage: Deno.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** One line for the end of a benchmark's table. */
export function describeMachine(m: MachineInfo): string {
  return `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.os}, Deno ${m.deno}, load average ${
    m.loadAverage.join(" ")
  }`;
}
