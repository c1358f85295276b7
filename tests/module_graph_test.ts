/**
 * The layout, checked on the real module graph (`deno info --json`): production packages never
 * load the simulators or the private test servers, the domain core loads no I/O library, nothing
 * imports in a circle, and the design registry is the only place that lists the designs.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const rootPath = ROOT.pathname;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

/** Local module paths (from the repository root) loaded by `entry`, with their local imports. */
async function graph(entry: string): Promise<Map<string, string[]>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: rootPath,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
  const local = (specifier: string) =>
    specifier.startsWith(ROOT.href) ? specifier.slice(ROOT.href.length) : undefined;
  const modules = new Map<string, string[]>();
  for (const m of info.modules) {
    const path = local(m.specifier);
    if (path === undefined) continue;
    const deps = (m.dependencies ?? [])
      .map((d) => local(d.code?.specifier ?? d.type?.specifier ?? ""))
      .filter((d): d is string => d !== undefined);
    modules.set(path, deps);
  }
  return modules;
}

/** Every npm package `entry` loads (directly or through the modules it loads). */
async function npmPackages(entry: string): Promise<string[]> {
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: rootPath,
    stdout: "piped",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith("npm:"));
}

const packageOf = (path: string) => path.split("/")[0];

/** The production entry points: servers, consumers, the monitor and what they share. */
const PRODUCTION = [
  "pix/mod.ts",
  "infra/mod.ts",
  "cli/mod.ts",
  "queue/mod.ts",
  "consumer/mod.ts",
  "consumer/consume_command.ts",
  "consumer/consume_basic_command.ts",
  "consumer/dlq_command.ts",
  "consumer/migrate_command.ts",
  "consumer/stats_command.ts",
  "fifo_list_demo/mod.ts",
  "fifo_list_demo/consume_list_command.ts",
  "fifo_list_demo/consume_list_reliable_command.ts",
  "gateway/mod.ts",
  "gateway/gateway_command.ts",
  "http/mod.ts",
  "monitor/mod.ts",
  "monitor/monitor_command.ts",
  "dashboard/mod.ts",
  "dashboard/dashboard_command.ts",
  "rinha/api.ts",
  "rinha/worker.ts",
  "rinha/store.ts",
];

Deno.test("production code never loads the simulators or the private test servers", async () => {
  for (const entry of PRODUCTION) {
    const loaded = [...(await graph(entry)).keys()];
    const wrong = loaded.filter((p) =>
      ["simulators", "testing", "loadtest"].includes(packageOf(p))
    );
    assert.deepEqual(wrong, [], `${entry} loads ${wrong.join(", ")}`);
  }
});

Deno.test("the gateway depends on the queue registry, not on the simulators", async () => {
  const packages = new Set([...(await graph("gateway/gateway_command.ts")).keys()].map(packageOf));
  assert.ok(packages.has("queue"));
  assert.ok(!packages.has("simulators"));
});

Deno.test("the domain core does no I/O: it loads no other package and no I/O library", async () => {
  const packages = new Set([...(await graph("pix/mod.ts")).keys()].map(packageOf));
  assert.deepEqual([...packages], ["pix"]);
  assert.deepEqual(await npmPackages("pix/mod.ts"), []);
  assert.ok((await npmPackages("infra/mod.ts")).some((p) => p.includes("ioredis")));
  // The registry's plain data is what k6 scripts import: it must load nothing at all.
  assert.deepEqual([...(await graph("queue/design_info.ts")).keys()], ["queue/design_info.ts"]);
});

/** The first import circle among `modules`, as a path that ends where it starts. */
function findCycle(modules: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "open");
    stack.push(node);
    for (const next of modules.get(node) ?? []) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of modules.keys()) {
    if (state.get(node) === undefined) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

Deno.test("findCycle finds a circle and passes a tree", () => {
  assert.deepEqual(
    findCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]])),
    ["a", "b", "c", "a"],
  );
  assert.equal(findCycle(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), undefined);
});

/** Every command and package face of the repository (the tasks' files and each mod.ts). */
async function allEntries(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const entries = new Set<string>();
  for (const task of Object.values(config.tasks) as string[]) {
    for (const m of task.matchAll(/\b([a-z_0-9/]+\.ts)\b/g)) entries.add(m[1]);
  }
  for (const member of config.workspace as string[]) {
    const mod = `${member.replace(/^\.\//, "")}/mod.ts`;
    try {
      await Deno.stat(new URL(mod, ROOT));
      entries.add(mod);
    } catch {
      // a member without a face (the k6 scenarios)
    }
  }
  return [...entries];
}

Deno.test("no module imports in a circle, and no package depends on another in a circle", async () => {
  const modules = new Map<string, string[]>();
  for (const entry of await allEntries()) {
    for (const [path, deps] of await graph(entry)) modules.set(path, deps);
  }
  assert.ok(modules.size > 100, `only ${modules.size} modules seen`);
  const cycle = findCycle(modules);
  assert.equal(cycle, undefined, `import circle: ${cycle?.join(" -> ")}`);
  const packages = new Map<string, string[]>();
  for (const [path, deps] of modules) {
    const from = packageOf(path);
    const list = packages.get(from) ?? [];
    for (const d of deps) if (packageOf(d) !== from) list.push(packageOf(d));
    packages.set(from, list);
  }
  const packageCycle = findCycle(packages);
  assert.equal(packageCycle, undefined, `package circle: ${packageCycle?.join(" -> ")}`);
});

Deno.test("the design registry is the only place that lists the designs", async () => {
  const offenders: string[] = [];
  const walk = async (dir: URL, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "tests") continue;
      const path = rel + e.name;
      if (e.isDirectory) await walk(new URL(`${e.name}/`, dir), `${path}/`);
      else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) {
        const text = await Deno.readTextFile(new URL(e.name, dir));
        // Two or more design names quoted side by side in one literal: a list of designs.
        const names = /"(?:stream|basic|list|list-reliable)"/.source;
        if (new RegExp(`${names}\\s*[,\\]]\\s*${names}`).test(text)) offenders.push(path);
      }
    }
  };
  await walk(ROOT, "");
  assert.deepEqual(offenders, ["queue/design_info.ts"]);
});
