/**
 * deploy/: the image (deploy/Dockerfile, .dockerignore), the compose stack (deploy/compose.yaml and
 * its Prometheus and Grafana files) and the Kubernetes manifests (deploy/k8s/), checked here
 * without a Docker engine or a cluster:
 * - the Dockerfile is linted (dockerfile-utils, the linter of VS Code's Docker extension) and read:
 *   FROM the README's Deno, a non-root USER, `deno task` entry points, every task entry cached;
 * - its build step runs outside Docker on a copy of the build context made by .dockerignore's
 *   rules; the tasks then start from that copy as the image's unprivileged user (uid 1993), with no
 *   network at all and a dependency cache they cannot write; and `deno task consume`, as PID 1 of
 *   its own PID namespace (as in a container), processes payments and stops cleanly on SIGTERM;
 * - compose.yaml passes `docker-compose config` (Debian's docker-compose, skipped without it) and
 *   refuses to run without its secrets; the compose Prometheus config passes `promtool check
 *   config` with the rules it mounts;
 * - every Kubernetes object validates against the Kubernetes schemas of kubernetes-models, and
 *   carries no field those schemas do not know;
 * - every environment variable, task and mounted file they name exists in the code and the
 *   repository.
 */
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { validate as lintDockerfile } from "dockerfile-utils";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { validate as namespaceSchema } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as configMapSchema } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap";
import { validate as secretSchema } from "kubernetes-models/_schemas/IoK8sApiCoreV1Secret";
import { validate as serviceSchema } from "kubernetes-models/_schemas/IoK8sApiCoreV1Service";
import { validate as deploymentSchema } from "kubernetes-models/_schemas/IoK8sApiAppsV1Deployment";
import { validate as pdbSchema } from "kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget";
import { validate as hpaSchema } from "kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler";
import {
  client,
  INTEGRATION,
  pendingCount,
  sendPayments,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);
const rootPath = ROOT.pathname;
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));
const exists = (path: string) => Deno.stat(new URL(path, ROOT)).then(() => true, () => false);

// Variables the compose file and the manifests may set before the code that reads them lands.
// added by the consumer lifecycle/metrics work
const PARALLEL_ENV = new Set([
  "METRICS_PORT",
  "WAIT_FOR_REDIS",
  "SHUTDOWN_TIMEOUT_MS",
  "ALLOW_EVICTION",
  "CONSUMER_GC_MS",
  "LOG_FORMAT",
  "GATEWAY_API_KEYS",
  "ALLOWED_DESIGNS",
  "MAX_QUEUE_LAG",
  "MAX_WAITERS",
  "REDIS_CA_FILE",
]);

/** The image's unprivileged user: the official Deno image's `deno` (tests run the tasks as it). */
const IMAGE_UID = 1993;

// ---------------------------------------------------------------------------------------------
// The repository: README's Deno, deno.json's tasks, the variables the code reads.

async function readmeDenoVersion(): Promise<string> {
  const m = /^npx -y deno@([0-9.]+) task test$/m.exec(await read("README.md"));
  assert.ok(m, "README.md has no `npx -y deno@<version> task test` line");
  return m[1];
}

async function denoConfig(): Promise<{ tasks: Record<string, string>; workspace: string[] }> {
  return JSON.parse(await read("deno.json"));
}

/** The file each task runs (`deno run -A <file>`). */
async function taskEntries(): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  for (const [name, command] of Object.entries((await denoConfig()).tasks)) {
    const m = /^deno run -A (\S+\.ts)(?: .*)?$/.exec(command);
    assert.ok(m, `task ${name}: expected "deno run -A <file> ...", got ${command}`);
    entries.set(name, m[1]);
  }
  return entries;
}

/** Every environment variable the code reads: `.env("X")`, `Deno.env.get("X")`, k6's `__ENV.X`. */
async function codeEnvNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const walk = async (dir: URL): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !["node_modules", "results"].includes(entry.name)) {
        await walk(new URL(`${entry.name}/`, dir));
      } else if (entry.isFile && /\.(ts|js)$/.test(entry.name)) {
        const text = await Deno.readTextFile(new URL(entry.name, dir));
        for (
          const m of text.matchAll(
            /\.env\("([A-Z0-9_]+)"\)|Deno\.env\.get\("([A-Z0-9_]+)"\)|__ENV\.([A-Z0-9_]+)/g,
          )
        ) names.add(m[1] ?? m[2] ?? m[3]);
      }
    }
  };
  for (const member of (await denoConfig()).workspace) await walk(new URL(`${member}/`, ROOT));
  return names;
}

function assertKnownEnv(names: Iterable<string>, code: Set<string>, where: string) {
  const unknown = [...new Set(names)].filter((n) => !code.has(n) && !PARALLEL_ENV.has(n));
  assert.deepEqual(unknown, [], `${where} sets variables no code reads`);
}

async function assertTask(task: string, where: string) {
  const tasks = (await denoConfig()).tasks;
  assert.ok(task in tasks, `${where} runs \`deno task ${task}\`, which deno.json does not have`);
}

/** An image reference with an explicit tag that is not `latest`. */
function assertPinned(image: string, where: string) {
  const tag = /^[^@]+:([^:/@]+)$/.exec(image)?.[1];
  assert.ok(tag !== undefined, `${where}: image ${image} has no tag`);
  assert.notEqual(tag, "latest", `${where}: image ${image} is :latest`);
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile and its build context.

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments and directives left out. */
async function dockerfile(): Promise<Instruction[]> {
  const text = await read("deploy/Dockerfile");
  const logical: string[] = [];
  let current = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, " ");
      continue;
    }
    current += line;
    if (current.trim() !== "") logical.push(current.trim());
    current = "";
  }
  return logical.map((l) => {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    return { keyword: m[1].toUpperCase(), args: m[2].replace(/\s+/g, " ").trim() };
  });
}

/** The files `deno install` caches in the image (the RUN step's entry points). */
async function cachedEntries(): Promise<{ args: string[]; entries: string[] }> {
  const runs = (await dockerfile()).filter((i) =>
    i.keyword === "RUN" && i.args.startsWith("deno install")
  );
  assert.equal(runs.length, 1, "one RUN deno install step");
  const args = runs[0].args.split(" ").slice(1);
  assert.ok(args.includes("--frozen"), "deno install without --frozen: the lockfile may move");
  return { args, entries: args.filter((a) => a.endsWith(".ts")) };
}

/** .dockerignore's rules: a path is left out when the last pattern matching it is not a `!`. */
async function dockerignore(): Promise<(path: string) => boolean> {
  const rules = (await read(".dockerignore")).split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, "");
      const source = pattern.split("/").map((part) =>
        part === "**" ? ".*" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")
          .replace(/\?/g, "[^/]")
      ).join("/").replace(/\.\*\//g, "(?:.*/)?");
      // A pattern that matches a folder leaves out everything under it.
      return { negate, re: new RegExp(`^${source}(?:/.*)?$`) };
    });
  return (path) => {
    let ignored = false;
    for (const { negate, re } of rules) if (re.test(path)) ignored = !negate;
    return ignored;
  };
}

async function run(cmd: string[], options: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

const hasCommand = (name: string, args = ["--version"]) =>
  new Deno.Command(name, { args, stdout: "null", stderr: "null" }).output()
    .then((o) => o.success, () => false);

const hasDockerCompose = await hasCommand("docker-compose", ["version"]);
const hasPromtool = await hasCommand("promtool");
const hasKubectl = await hasCommand("kubectl", ["version", "--client"]);
/** Root with unshare and setpriv: tasks can run as the image's user, without network, as PID 1. */
const canSandbox = Deno.uid() === 0 && await hasCommand("unshare", ["--version"]) &&
  await hasCommand("setpriv", ["--version"]);

Deno.test("Dockerfile: lints clean; FROM the README's Deno; a non-root USER; deno task", async () => {
  const text = await read("deploy/Dockerfile");
  const problems = lintDockerfile(text).map((d) =>
    `line ${d.range.start.line + 1}: ${d.message} (severity ${d.severity})`
  );
  assert.deepEqual(problems, [], "dockerfile-utils");

  const steps = await dockerfile();
  const froms = steps.filter((s) => s.keyword === "FROM");
  assert.equal(froms.length, 1, "one stage");
  assert.equal(froms[0].args, `denoland/deno:${await readmeDenoVersion()}`);
  assert.ok(!/latest/i.test(text.replace(/^\s*#.*$/gm, "")), "no `latest` anywhere");

  const users = steps.filter((s) => s.keyword === "USER");
  assert.ok(users.length > 0, "no USER: the tasks would run as root");
  const user = users.at(-1)!.args;
  assert.ok(!/^(root|0)(:|$)/.test(user), `runs as ${user}`);
  const last = (keyword: string) => steps.findLastIndex((s) => s.keyword === keyword);
  assert.ok(last("USER") < last("ENTRYPOINT"), "USER comes before the entry point");

  const json = (keyword: string) => JSON.parse(steps.find((s) => s.keyword === keyword)!.args);
  assert.deepEqual(json("ENTRYPOINT"), ["deno", "task"]);
  assert.deepEqual(json("CMD"), ["consume"]);
  await assertTask("consume", "the Dockerfile's CMD");
});

Deno.test("Dockerfile: every task's entry point is cached, and only files the image has", async () => {
  const ignored = await dockerignore();
  const { entries } = await cachedEntries();
  const expected = [...(await taskEntries()).values()].filter((file) => !ignored(file));
  assert.deepEqual([...entries].sort(), [...new Set(expected)].sort());
  for (const file of entries) assert.ok(await exists(file), `${file} does not exist`);
  // What the image must have, and must not.
  for (const kept of ["deno.json", "deno.lock", "consumer/consume_command.ts"]) {
    assert.ok(!ignored(kept), `.dockerignore leaves out ${kept}`);
  }
  for (const left of [".git/HEAD", "tests/run.ts", "consumer/batch_args_test.ts", "README.md"]) {
    assert.ok(ignored(left), `.dockerignore keeps ${left}`);
  }
});

// ---------------------------------------------------------------------------------------------
// The image's build step and entry point, outside Docker.

interface ImageCopy {
  /** The build context as the image has it (/app). */
  app: string;
  /** DENO_DIR after the build step (/deno-dir). */
  denoDir: string;
  /** A Deno binary the image's user may run. */
  bin: string;
}

let imageCopy: Promise<ImageCopy> | undefined;

/**
 * The image's /app and /deno-dir, made as `docker build` would: the files .dockerignore leaves,
 * then the Dockerfile's `deno install` step with an empty DENO_DIR. Everything stays owned by
 * root, not writable by the image's user: the tasks must run from a read-only cache.
 */
function buildImageCopy(): Promise<ImageCopy> {
  imageCopy ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "fastpix-image-" });
    addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    await Deno.chmod(dir, 0o755);
    const app = `${dir}/app`, denoDir = `${dir}/deno-dir`, bin = `${dir}/bin`;
    const ignored = await dockerignore();
    const listed = await run([
      "git",
      "ls-files",
      "-z",
      "--cached",
      "--others",
      "--exclude-standard",
    ], {
      cwd: rootPath,
    });
    assert.equal(listed.code, 0, listed.text);
    for (const file of listed.text.split("\0").filter((f) => f !== "" && !ignored(f))) {
      const stat = await Deno.stat(`${rootPath}${file}`).catch(() => undefined);
      if (!stat?.isFile) continue; // deleted in the work tree
      await Deno.mkdir(`${app}/${file}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.copyFile(`${rootPath}${file}`, `${app}/${file}`);
    }
    await Deno.mkdir(denoDir);
    await Deno.mkdir(bin);
    await Deno.copyFile(Deno.execPath(), `${bin}/deno`);
    await Deno.chmod(`${bin}/deno`, 0o755);
    const { args } = await cachedEntries();
    const install = await run([`${bin}/deno`, ...args], {
      cwd: app,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
    });
    assert.equal(install.code, 0, `deno ${args.join(" ")}:\n${install.text}`);
    assert.equal(
      await Deno.readTextFile(`${app}/deno.lock`),
      await read("deno.lock"),
      "the build step changed deno.lock",
    );
    return { app, denoDir, bin };
  })();
  return imageCopy;
}

/** `cmd` as the image's user (uid 1993, no groups), with only the image's environment. */
function asImageUser(image: ImageCopy, cmd: string[], env: Record<string, string> = {}): string[] {
  const vars = {
    PATH: `${image.bin}:/usr/bin:/bin`,
    HOME: "/nonexistent",
    DENO_DIR: image.denoDir,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    ...env,
  };
  return [
    "setpriv",
    `--reuid=${IMAGE_UID}`,
    `--regid=${IMAGE_UID}`,
    "--clear-groups",
    "env",
    "-i",
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    ...cmd,
  ];
}

Deno.test({
  name:
    "image: the build step caches every task; tasks start offline, as uid 1993, cache read-only",
  ignore: !canSandbox,
  fn: async () => {
    const image = await buildImageCopy();
    for (const left of ["tests", "docs", ".git", "consumer/batch_args_test.ts"]) {
      const there = await Deno.stat(`${image.app}/${left}`).then(() => true, () => false);
      assert.ok(!there, `the image has ${left}`);
    }
    // `unshare -n`: a network namespace of its own, without any interface up. Any download fails.
    for (const task of ["consume", "gateway", "monitor", "migrate", "dlq"]) {
      const out = await run([
        "unshare",
        "-n",
        ...asImageUser(image, ["deno", "task", task, "--help"]),
      ], {
        cwd: image.app,
      });
      assert.equal(out.code, 0, `deno task ${task} --help, offline:\n${out.text}`);
      assert.match(out.text, /Usage: /);
    }
    // The control: with an empty cache, the same start fails there (it would have to download).
    const empty = await Deno.makeTempDir({ prefix: "fastpix-empty-deno-dir-" });
    try {
      await Deno.chmod(empty, 0o777);
      const out = await run(
        [
          "unshare",
          "-n",
          ...asImageUser(image, ["deno", "task", "consume", "--help"], { DENO_DIR: empty }),
        ],
        { cwd: image.app },
      );
      assert.notEqual(out.code, 0, "started offline with an empty cache: the sandbox leaks");
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  },
});

Deno.test({
  name: "image: `deno task consume` as PID 1 processes payments and exits 0 on one SIGTERM",
  ignore: !canSandbox,
  ...INTEGRATION,
  fn: async () => {
    const image = await buildImageCopy();
    await using server = await startRedis();
    const redis = client(server.url);
    // unshare -pf: a PID namespace of its own, where `deno task` is PID 1 (as in a container);
    // --kill-child: should unshare die first, the namespace goes with it.
    const child = new Deno.Command("unshare", {
      args: [
        "-pf",
        "--mount-proc",
        "--kill-child",
        ...asImageUser(image, ["deno", "task", "consume"], {
          REDIS_URL: server.url,
          LOG_LEVEL: "info",
        }),
      ],
      cwd: image.app,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let output = "";
    const decoder = new TextDecoder();
    const drain = (stream: ReadableStream<Uint8Array>) =>
      stream.pipeTo(new WritableStream({ write: (c) => void (output += decoder.decode(c)) }));
    const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
    try {
      await waitFor("the consumer to start", () => /consuming pix_payments/.test(output), 60_000);
      const children = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`);
      const pid1 = Number(children.trim().split(/\s+/)[0]);
      const status = await Deno.readTextFile(`/proc/${pid1}/status`);
      assert.match(status, /^NSpid:\s+\d+\s+1$/m, "deno task is PID 1 of its namespace");
      assert.match(status, new RegExp(`^Uid:\\s+${IMAGE_UID}\\s`, "m"));
      assert.match(await Deno.readTextFile(`/proc/${pid1}/cmdline`), /^deno\0task\0consume\0/);

      await sendPayments(redis, 50);
      await waitFor(
        "50 payments processed",
        async () => (await redis.get("processed_count")) === "50",
      );

      const t0 = performance.now();
      Deno.kill(pid1, "SIGTERM"); // what `docker stop` and the kubelet send to PID 1
      const { code } = await child.status;
      const elapsed = (performance.now() - t0) / 1000;
      await drained;
      assert.equal(code, 0, output);
      assert.ok(elapsed < 10, `took ${elapsed.toFixed(1)} s to stop`);
      // One signal reached the consumer (a second one makes it exit at once, with 130).
      assert.doesNotMatch(output, /second signal/, output);
      assert.match(output, /stopped: read 50, confirmed 50/);
      assert.equal(await pendingCount(redis, "pix_payments"), 0, "nothing left pending");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      redis.disconnect();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// The compose stack.

// deno-lint-ignore no-explicit-any
type Yaml = any;

async function compose(): Promise<Yaml> {
  return parse(await read("deploy/compose.yaml"), { merge: true });
}

/** The services that run the fastpix image. */
function fastpixServices(doc: Yaml): [string, Yaml][] {
  return Object.entries(doc.services as Record<string, Yaml>)
    .filter(([, s]) => String(s.image).startsWith("fastpix:"));
}

/** A service's `environment` as a record (compose accepts a list of K=V too). */
function envOf(service: Yaml): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(env.map((kv: string) => [kv.split("=")[0], kv.split("=", 2)[1]]));
}

/** Bind mounts of a service: source (from the repository root) and target. */
function bindMounts(service: Yaml): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v: string) => v.split(":"))
    .filter(([source]: string[]) => source.startsWith("."))
    .map(([source, target]: string[]) => ({
      source: new URL(source, new URL("deploy/", ROOT)).pathname.slice(rootPath.length),
      target,
    }));
}

const seconds = (duration: string) => {
  const m = /^(\d+)(ms|s|m)$/.exec(duration);
  assert.ok(m, `duration ${duration}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as "ms" | "s" | "m"];
};

Deno.test({
  name: "compose: `docker-compose config` accepts it, and refuses it without the secrets",
  ignore: !hasDockerCompose,
  fn: async () => {
    const base = ["docker-compose", "--project-directory", `${rootPath}deploy`];
    const ok = await run([
      ...base,
      "--env-file",
      `${rootPath}deploy/.env.example`,
      "-f",
      `${rootPath}deploy/compose.yaml`,
      "config",
      "-q",
    ]);
    assert.equal(ok.code, 0, ok.text);
    const blank = await Deno.makeTempFile({ suffix: ".env" });
    try {
      const refused = await run([
        ...base,
        "--env-file",
        blank,
        "-f",
        `${rootPath}deploy/compose.yaml`,
        "config",
        "-q",
      ], { env: { REDIS_PASSWORD: "", POSTGRES_PASSWORD: "", GRAFANA_ADMIN_PASSWORD: "" } });
      assert.notEqual(refused.code, 0, "started without passwords");
      assert.match(refused.text, /set (REDIS|POSTGRES|GRAFANA_ADMIN)_PASSWORD in deploy\/.env/);
    } finally {
      await Deno.remove(blank);
    }
  },
});

Deno.test("compose: Redis durable and never evicting; the services and their wiring", async () => {
  const doc = await compose();
  const s = doc.services;
  for (const name of ["redis", "postgres", "migrate", "consumer", "gateway", "exporter"]) {
    assert.ok(s[name], `no ${name} service`);
  }
  for (const name of ["prometheus", "grafana"]) assert.ok(s[name], `no ${name} service`);
  for (const [name, service] of Object.entries(s as Record<string, Yaml>)) {
    assertPinned(service.image, `compose ${name}`);
  }

  const redisArgs: string[] = s.redis.command;
  const flag = (name: string) => redisArgs[redisArgs.indexOf(name) + 1];
  assert.equal(flag("--appendonly"), "yes");
  assert.equal(flag("--maxmemory-policy"), "noeviction");

  assert.deepEqual(s.migrate.command, ["migrate"]);
  assert.equal(s.migrate.restart, "no");
  assert.ok(envOf(s.migrate).POSTGRES_DSN);

  const consumer = s.consumer;
  assert.deepEqual(consumer.command, ["consume"]);
  assert.equal(consumer.deploy.replicas, 2);
  const cenv = envOf(consumer);
  assert.equal(cenv.WAIT_FOR_REDIS, "true");
  assert.match(cenv.POSTGRES_DSN, /^postgres:\/\/.*@postgres:5432\//);
  assert.match(cenv.REDIS_URL, /@redis:6379$/);
  assert.equal(consumer.depends_on.migrate.condition, "service_completed_successfully");
  assert.equal(consumer.depends_on.redis.condition, "service_healthy");
  assert.ok(
    seconds(consumer.stop_grace_period) > Number(cenv.SHUTDOWN_TIMEOUT_MS) / 1000 + 5,
    "stop_grace_period leaves the consumer its SHUTDOWN_TIMEOUT_MS",
  );

  const gateway = s.gateway;
  assert.deepEqual(gateway.command, ["gateway"]);
  const port = envOf(gateway).PORT;
  assert.ok(gateway.ports.some((p: string) => String(p).endsWith(`:${port}`)), "gateway published");

  const exporter = s.exporter;
  assert.deepEqual(exporter.command, ["monitor", "--metrics-port", "9108", "--no-tui"]);
  assert.equal(envOf(exporter).MONITOR_METRICS_HOST, "0.0.0.0", "reachable by Prometheus");
  for (const key of ["IDLE_THRESHOLD_MS", "LEDGER_MAX_BACKLOG"]) {
    assert.equal(envOf(exporter)[key], cenv[key], `the exporter's ${key} is the consumers'`);
  }
  // Admin interfaces on the loopback interface only.
  for (const name of ["prometheus", "grafana"]) {
    for (const p of s[name].ports) assert.match(String(p), /^127\.0\.0\.1:/, `${name} ${p}`);
  }
});

Deno.test("compose: tasks exist, variables are read by the code, mounted files exist", async () => {
  const doc = await compose();
  const code = await codeEnvNames();
  for (const [name, service] of fastpixServices(doc)) {
    await assertTask(service.command[0], `compose ${name}`);
    assertKnownEnv(Object.keys(envOf(service)), code, `compose ${name}`);
  }
  for (const [name, service] of Object.entries(doc.services as Record<string, Yaml>)) {
    for (const { source } of bindMounts(service)) {
      assert.ok(await exists(source), `compose ${name} mounts ${source}, which does not exist`);
    }
  }
  // The dashboard and the rules are mounted from ops/, not copied.
  const mounted = Object.values(doc.services as Record<string, Yaml>).flatMap(bindMounts)
    .map((m) => m.source);
  assert.ok(mounted.includes("ops/prometheus/alerts.yml"));
  assert.ok(mounted.includes("ops/grafana/fastpix.json"));
});

Deno.test("compose: secrets come from deploy/.env, which git ignores; none is written inline", async () => {
  const text = await read("deploy/compose.yaml");
  const doc = await compose();
  for (const [name, service] of Object.entries(doc.services as Record<string, Yaml>)) {
    for (const [key, value] of Object.entries(envOf(service))) {
      const secret = /(PASSWORD|SECRET|API_KEYS|_AUTH)$/.test(key) ||
        /^\w+:\/\/[^/@]*:[^/@]*@/.test(String(value));
      if (secret) {
        assert.match(String(value), /\$\{[A-Z_]+:\?[^}]+\}/, `${name}.${key} is not from .env`);
      }
    }
  }
  assert.ok(!/change-me/.test(text), "compose.yaml holds an example password");
  const example = await read("deploy/.env.example");
  for (const m of text.matchAll(/\$\{([A-Z_]+):\?/g)) {
    assert.match(example, new RegExp(`^${m[1]}=`, "m"), `.env.example lacks ${m[1]}`);
  }
  const ignored = await run(["git", "check-ignore", "-q", "deploy/.env"], { cwd: rootPath });
  assert.equal(ignored.code, 0, "git does not ignore deploy/.env");
});

Deno.test("compose: Prometheus scrapes the gateway, the exporter and the consumers", async () => {
  const doc = await compose();
  const prom = parse(await read("deploy/prometheus/prometheus.yml"));
  const jobs = prom.scrape_configs as Yaml[];
  const targets = jobs.flatMap((j) => (j.static_configs ?? []).flatMap((c: Yaml) => c.targets));
  assert.ok(targets.includes(`gateway:${envOf(doc.services.gateway).PORT}`));
  assert.ok(targets.includes("exporter:9108"));
  const dns = jobs.flatMap((j) => j.dns_sd_configs ?? []);
  assert.ok(
    dns.some((d: Yaml) =>
      d.names.includes("consumer") && String(d.port) === envOf(doc.services.consumer).METRICS_PORT
    ),
    "every consumer replica is scraped on METRICS_PORT",
  );
  // The rules file is mounted where rule_files looks.
  const mount = bindMounts(doc.services.prometheus).find((m) =>
    m.source === "ops/prometheus/alerts.yml"
  )!;
  const globs = (prom.rule_files as string[]).map((g) =>
    new RegExp(`^${g.replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*")}$`)
  );
  assert.ok(globs.some((g) => g.test(mount.target)), `${mount.target} is not in rule_files`);
  const config = bindMounts(doc.services.prometheus).find((m) =>
    m.source === "deploy/prometheus/prometheus.yml"
  );
  assert.equal(config?.target, "/etc/prometheus/prometheus.yml");
});

Deno.test({
  name: "compose: promtool check config, with the rules mounted",
  ignore: !hasPromtool,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "fastpix-prometheus-" });
    try {
      // The config as Prometheus sees it: rule_files pointing at the file compose mounts there.
      const text = (await read("deploy/prometheus/prometheus.yml"))
        .replace("/etc/prometheus/rules/*.yml", `${rootPath}ops/prometheus/alerts.yml`);
      await Deno.writeTextFile(`${dir}/prometheus.yml`, text);
      const out = await run(["promtool", "check", "config", `${dir}/prometheus.yml`]);
      assert.equal(out.code, 0, out.text);
      assert.match(out.text, /SUCCESS: 1 rule files found/);
      assert.match(out.text, /SUCCESS: \d+ rules found/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compose: Grafana gets the Prometheus datasource and the mounted dashboard", async () => {
  const doc = await compose();
  const grafana = doc.services.grafana;
  const provisioning = bindMounts(grafana).find((m) => m.target === "/etc/grafana/provisioning");
  assert.equal(provisioning?.source, "deploy/grafana/provisioning");
  const datasources = parse(await read("deploy/grafana/provisioning/datasources/prometheus.yaml"));
  const ds = datasources.datasources[0];
  assert.equal(ds.type, "prometheus");
  assert.equal(ds.isDefault, true);
  assert.equal(ds.url, "http://prometheus:9090");
  const dashboards = parse(await read("deploy/grafana/provisioning/dashboards/fastpix.yaml"));
  const path = dashboards.providers[0].options.path;
  const dashboard = bindMounts(grafana).find((m) => m.source === "ops/grafana/fastpix.json");
  assert.ok(dashboard?.target.startsWith(`${path}/`), `dashboard mounted outside ${path}`);
  assert.equal(JSON.parse(await read("ops/grafana/fastpix.json")).uid, "fastpix");
});

// ---------------------------------------------------------------------------------------------
// Kubernetes.

type Schema = (data: unknown) => boolean;
interface Kind {
  model: new (data: never) => { validate(): void };
  schema: Schema;
}

const KINDS: Record<string, Kind> = {
  "v1/Namespace": { model: Namespace, schema: namespaceSchema },
  "v1/ConfigMap": { model: ConfigMap, schema: configMapSchema },
  "v1/Secret": { model: Secret, schema: secretSchema },
  "v1/Service": { model: Service, schema: serviceSchema },
  "apps/v1/Deployment": { model: Deployment, schema: deploymentSchema },
  "policy/v1/PodDisruptionBudget": { model: PodDisruptionBudget, schema: pdbSchema },
  "autoscaling/v2/HorizontalPodAutoscaler": { model: HorizontalPodAutoscaler, schema: hpaSchema },
};

/**
 * Fields of `object` that `schema` does not know. The schemas are compiled validators that read
 * each property they define (and enumerate only maps, such as labels): a field never read, in an
 * object never enumerated, is one the schema lacks (a typo such as `livenesProbe`, which the
 * validator itself lets through, as the API server does unless told to be strict).
 */
function unknownFields(schema: Schema, object: unknown): string[] {
  const records: { path: string; keys: string[]; read: Set<string>; enumerated: boolean }[] = [];
  const wrap = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => wrap(v, `${path}[${i}]`));
    if (value === null || typeof value !== "object") return value;
    const record = { path, keys: Object.keys(value), read: new Set<string>(), enumerated: false };
    records.push(record);
    const copy = Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, wrap(v, path === "" ? k : `${path}.${k}`)]),
    );
    return new Proxy(copy, {
      get(target, key, receiver) {
        if (typeof key === "string") record.read.add(key);
        return Reflect.get(target, key, receiver);
      },
      has(target, key) {
        if (typeof key === "string") record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
  };
  schema(wrap(object, ""));
  const unknown = records.flatMap((r) =>
    r.enumerated
      ? []
      : r.keys.filter((k) => !r.read.has(k)).map((k) => r.path ? `${r.path}.${k}` : k)
  );
  // What lies under an unknown field is unknown too: name the field alone.
  return unknown.filter((path) =>
    !unknown.some((u) => path.startsWith(`${u}.`) || path.startsWith(`${u}[`))
  );
}

interface K8sObject {
  file: string;
  // deno-lint-ignore no-explicit-any
  object: any;
}

const K8S_DIR = "deploy/k8s/";
/** Manifests that kustomization.yaml leaves out on purpose (documented in them). */
const OPTIONAL_MANIFESTS = ["secret.example.yaml", "hpa-lag.yaml"];

async function manifestFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(new URL(K8S_DIR, ROOT))) {
    if (e.isFile && /\.ya?ml$/.test(e.name) && e.name !== "kustomization.yaml") files.push(e.name);
  }
  return files.sort();
}

async function k8sObjects(): Promise<K8sObject[]> {
  const objects: K8sObject[] = [];
  for (const file of await manifestFiles()) {
    for (const doc of parseAllDocuments(await read(`${K8S_DIR}${file}`))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const object = doc.toJS();
      if (object !== null) objects.push({ file, object });
    }
  }
  return objects;
}

const kindOf = (o: K8sObject) => `${o.object.apiVersion}/${o.object.kind}`;
const where = (o: K8sObject) => `${o.file} ${o.object.kind}/${o.object.metadata?.name}`;

Deno.test("k8s: the unknown-field check finds a misspelt field, and accepts maps", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x", labels: { "any.label/name": "y" } },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: {
        metadata: { labels: { a: "b" } },
        spec: { containers: [{ name: "c", image: "i:1", livenesProbe: { periodSeconds: 1 } }] },
      },
    },
  };
  new Deployment(deployment as never).validate(); // the library alone lets it through
  assert.deepEqual(unknownFields(deploymentSchema, deployment), [
    "spec.template.spec.containers[0].livenesProbe",
  ]);
});

Deno.test("k8s: every object validates against the Kubernetes schemas, with no unknown field", async () => {
  const objects = await k8sObjects();
  assert.ok(objects.length >= 10, `only ${objects.length} objects`);
  for (const o of objects) {
    const kind = KINDS[kindOf(o)];
    assert.ok(kind, `${where(o)}: ${kindOf(o)} is not one this test knows`);
    try {
      new kind.model(o.object as never).validate();
    } catch (error) {
      assert.fail(`${where(o)}: ${(error as Error).message}`);
    }
    assert.deepEqual(unknownFields(kind.schema, o.object), [], `${where(o)}: unknown fields`);
  }
});

Deno.test("k8s: kustomization lists every manifest but the optional ones", async () => {
  const kustomization = parse(await read(`${K8S_DIR}kustomization.yaml`));
  const resources: string[] = kustomization.resources;
  for (const r of resources) assert.ok(await exists(`${K8S_DIR}${r}`), `${r} does not exist`);
  assert.deepEqual(
    [...resources, ...OPTIONAL_MANIFESTS].sort(),
    await manifestFiles(),
    "a manifest is neither in kustomization.yaml nor one of the optional ones",
  );
});

Deno.test({
  name: "k8s: kubectl kustomize renders them into the namespace, with the image",
  ignore: !hasKubectl,
  fn: async () => {
    const out = await run(["kubectl", "kustomize", `${rootPath}${K8S_DIR}`]);
    assert.equal(out.code, 0, out.text);
    const rendered = parseAllDocuments(out.text).map((d) => d.toJS());
    const kustomized = (await k8sObjects()).filter((o) => !OPTIONAL_MANIFESTS.includes(o.file));
    assert.equal(rendered.length, kustomized.length);
    for (const o of rendered) {
      if (o.kind !== "Namespace") assert.equal(o.metadata.namespace, "fastpix", o.metadata.name);
    }
  },
});

/** Containers (init containers too) of a Deployment. */
// deno-lint-ignore no-explicit-any
const containersOf = (d: K8sObject): any[] => [
  ...(d.object.spec.template.spec.initContainers ?? []),
  ...d.object.spec.template.spec.containers,
];

/** A container's literal env values. */
// deno-lint-ignore no-explicit-any
function literalEnv(container: any): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).filter((e: Yaml) => "value" in e).map((e: Yaml) => [e.name, e.value]),
  );
}

/** The container port a probe or Service names (by name or number). */
// deno-lint-ignore no-explicit-any
function containerPort(container: any, port: string | number): number | undefined {
  const p = (container.ports ?? []).find((p: Yaml) => p.name === port || p.containerPort === port);
  return p?.containerPort;
}

async function deployment(name: string): Promise<K8sObject> {
  const d = (await k8sObjects()).find((o) =>
    o.object.kind === "Deployment" && o.object.metadata.name === name
  );
  assert.ok(d, `no Deployment ${name}`);
  return d;
}

Deno.test("k8s: Deployments: selectors, non-root, resources, tasks, ConfigMap and Secret keys", async () => {
  const objects = await k8sObjects();
  const configMaps = new Map(
    objects.filter((o) => o.object.kind === "ConfigMap").map((
      o,
    ) => [o.object.metadata.name, o.object]),
  );
  const secret = objects.find((o) => o.object.kind === "Secret")!.object;
  const code = await codeEnvNames();
  const deployments = objects.filter((o) => o.object.kind === "Deployment");
  assert.deepEqual(deployments.map((d) => d.object.metadata.name).sort(), [
    "fastpix-consumer",
    "fastpix-gateway",
    "fastpix-queue-exporter",
  ]);
  for (const d of deployments) {
    const spec = d.object.spec;
    for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
      assert.equal(spec.template.metadata.labels[k], v, `${where(d)}: selector ${k}`);
    }
    assert.equal(spec.template.spec.securityContext.runAsNonRoot, true, where(d));
    assert.equal(spec.template.spec.securityContext.runAsUser, IMAGE_UID, where(d));
    for (const c of containersOf(d)) {
      const at = `${where(d)} ${c.name}`;
      assertPinned(c.image, at);
      assert.ok(c.image.startsWith("fastpix:"), `${at}: image ${c.image}`);
      await assertTask(c.args[0], at);
      assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${at}: requests`);
      assert.ok(c.resources?.limits?.memory, `${at}: memory limit`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, at);
      const names: string[] = (c.env ?? []).map((e: Yaml) => e.name);
      for (const from of c.envFrom ?? []) {
        const cm = configMaps.get(from.configMapRef?.name);
        assert.ok(cm, `${at}: ConfigMap ${from.configMapRef?.name} is not in deploy/k8s`);
        names.push(...Object.keys(cm.data));
      }
      assertKnownEnv(names, code, at);
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        assert.equal(ref.name, secret.metadata.name, `${at}: Secret ${ref.name}`);
        assert.ok(
          ref.optional === true || ref.key in secret.stringData,
          `${at}: key ${ref.key} is not in secret.example.yaml`,
        );
        assertKnownEnv([ref.key], code, `${at} (Secret key)`);
      }
    }
  }
  // The settings every process must share are in the shared ConfigMap.
  const shared = configMaps.get("fastpix-config");
  for (const key of ["IDLE_THRESHOLD_MS", "LEDGER_MAX_BACKLOG"]) assert.ok(shared?.data[key], key);
});

Deno.test("k8s: consumer: /healthz and /readyz on METRICS_PORT, preStop, grace above the shutdown bound", async () => {
  const d = await deployment("fastpix-consumer");
  const pod = d.object.spec.template.spec;
  const c = pod.containers.find((c: Yaml) => c.args[0] === "consume");
  const env = literalEnv(c);
  assert.equal(env.METRICS_PORT, "9464");
  assert.equal(env.WAIT_FOR_REDIS, "true");
  assert.ok(c.env.some((e: Yaml) => e.name === "POSTGRES_DSN"), "the ledger");
  assert.equal(c.livenessProbe.httpGet.path, "/healthz");
  assert.equal(c.readinessProbe.httpGet.path, "/readyz");
  for (const probe of [c.livenessProbe, c.readinessProbe]) {
    assert.equal(containerPort(c, probe.httpGet.port), Number(env.METRICS_PORT));
  }
  const preStop: string[] = c.lifecycle.preStop.exec.command;
  assert.equal(preStop[0], "sleep");
  const shutdownSeconds = Number(env.SHUTDOWN_TIMEOUT_MS ?? 10_000) / 1000;
  assert.ok(
    pod.terminationGracePeriodSeconds >= Number(preStop[1]) + shutdownSeconds + 5,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} leaves no time to finish`,
  );
  // Migrations before the consumers start.
  assert.deepEqual(pod.initContainers.map((i: Yaml) => i.args[0]), ["migrate"]);
});

Deno.test("k8s: gateway and exporter: probes, ports, and Services that reach them", async () => {
  const gateway = await deployment("fastpix-gateway");
  const g = gateway.object.spec.template.spec.containers[0];
  assert.equal(g.readinessProbe.httpGet.path, "/health");
  assert.equal(containerPort(g, g.readinessProbe.httpGet.port), Number(literalEnv(g).PORT));
  assert.ok(g.lifecycle.preStop, "gateway preStop");

  const exporter = await deployment("fastpix-queue-exporter");
  const e = exporter.object.spec.template.spec.containers[0];
  assert.deepEqual(e.args, ["monitor", "--metrics-port", "9108", "--no-tui"]);
  assert.equal(literalEnv(e).MONITOR_METRICS_HOST, "0.0.0.0", "reachable from other pods");
  assert.equal(containerPort(e, e.livenessProbe.httpGet.port), 9108);
  assert.equal(e.livenessProbe.httpGet.path, "/healthz");

  const objects = await k8sObjects();
  const services = objects.filter((o) => o.object.kind === "Service");
  assert.deepEqual(services.map((s) => s.object.metadata.name).sort(), [
    "fastpix-gateway",
    "fastpix-queue-exporter",
  ]);
  for (const s of services) {
    const selected = objects.filter((o) =>
      o.object.kind === "Deployment" &&
      Object.entries(s.object.spec.selector).every(([k, v]) =>
        o.object.spec.template.metadata.labels[k] === v
      )
    );
    assert.equal(selected.length, 1, `${where(s)} selects ${selected.length} Deployments`);
    const container = selected[0].object.spec.template.spec.containers[0];
    for (const p of s.object.spec.ports) {
      assert.ok(containerPort(container, p.targetPort), `${where(s)}: targetPort ${p.targetPort}`);
    }
  }
});

Deno.test("k8s: the optional HPA scales the consumers on the exporter's lag metric", async () => {
  const hpa = (await k8sObjects()).find((o) => o.object.kind === "HorizontalPodAutoscaler")!;
  assert.equal(hpa.file, "hpa-lag.yaml");
  const spec = hpa.object.spec;
  assert.equal(spec.scaleTargetRef.kind, "Deployment");
  assert.equal(spec.scaleTargetRef.name, "fastpix-consumer");
  const metric = spec.metrics[0].external.metric;
  assert.equal(metric.name, "fastpix_queue_group_lag_entries");
  assert.ok(
    (await read("monitor/exporter.ts")).includes(`"${metric.name}"`),
    "the exporter serves it",
  );
  assert.match(await read(`${K8S_DIR}hpa-lag.yaml`), /Prometheus adapter/);
});
