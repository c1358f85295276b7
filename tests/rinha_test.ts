/**
 * Rinha de Backend mode against a real redis-server and two processor simulators on free ports:
 * routing under failures and slowness, duplicates, the summary against the processors' own admin
 * summaries, one health checker, and a worker SIGKILLed mid-payment.
 */
import assert from "node:assert/strict";
import { formatCents } from "@fastpix/pix";
import { type Redis, sleep } from "@fastpix/infra";
import {
  DEFAULT_POLICY,
  parsePaid,
  RINHA_KEYS,
  RinhaApi,
  RinhaStore,
  RinhaWorker,
  WORKER_DEFAULTS,
  type WorkerOptions,
} from "@fastpix/rinha";
import { type ProcessorOptions, ProcessorSimulator } from "@fastpix/simulators";
import { ChildTool, client, INTEGRATION, startRedis, waitFor } from "./_helpers.ts";

/** Short health window everywhere, so tests see health changes within a fraction of a second. */
const HEALTH_MS = 200;

interface Rig {
  redis: Redis;
  redisUrl: string;
  api: RinhaApi;
  apiUrl: string;
  processors: { default: ProcessorSimulator; fallback: ProcessorSimulator };
  workers: { worker: RinhaWorker; running: Promise<unknown> }[];
  startWorker(overrides?: Partial<WorkerOptions>): RinhaWorker;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Redis, both processors, the API, and (unless `workers: 0`) one worker, all in this process. */
async function rig(options: {
  default?: Partial<ProcessorOptions>;
  fallback?: Partial<ProcessorOptions>;
  worker?: Partial<WorkerOptions>;
  workers?: number;
} = {}): Promise<Rig> {
  const server = await startRedis();
  const processors = {
    default: ProcessorSimulator.start({
      name: "default",
      healthWindowMs: HEALTH_MS,
      ...options.default,
    }),
    fallback: ProcessorSimulator.start({
      name: "fallback",
      feeBasisPoints: 1500,
      healthWindowMs: HEALTH_MS,
      ...options.fallback,
    }),
  };
  const api = await RinhaApi.start({ redisUrl: server.url, port: 0 });
  const redis = client(server.url);
  const workers: Rig["workers"] = [];
  const startWorker = (overrides: Partial<WorkerOptions> = {}) => {
    const worker = new RinhaWorker({
      ...WORKER_DEFAULTS,
      redisUrl: server.url,
      processorUrls: { default: processors.default.url, fallback: processors.fallback.url },
      consumerName: `test_worker_${workers.length + 1}`,
      idleThresholdMs: 600,
      healthIntervalMs: HEALTH_MS,
      blockMs: 50,
      ...options.worker,
      ...overrides,
    });
    workers.push({ worker, running: worker.run() });
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 1); i++) startWorker();
  return {
    redis,
    redisUrl: server.url,
    api,
    apiUrl: `http://127.0.0.1:${api.port}`,
    processors,
    workers,
    startWorker,
    async [Symbol.asyncDispose]() {
      for (const w of workers) w.worker.stop();
      await Promise.all(workers.map((w) => w.running));
      await api.close();
      redis.disconnect();
      await Promise.all([processors.default.close(), processors.fallback.close()]);
      await server.stop();
    },
  };
}

/** Posts payments of the given cents with new UUIDs; returns their correlation ids. */
async function pay(apiUrl: string, amounts: number[]): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(amounts.map(async (cents) => {
    const correlationId = crypto.randomUUID();
    ids.push(correlationId);
    const response = await post(
      `${apiUrl}/payments`,
      `{"correlationId":"${correlationId}","amount":${formatCents(cents)}}`,
    );
    const text = await response.text();
    assert.equal(response.status, 202, text);
  })); // deno-fmt-ignore
  return ids;
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
} // deno-fmt-ignore

const cents = (amount: number) => Math.round(amount * 100);

function query(from?: string, to?: string): string {
  const q = new URLSearchParams();
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  return q.size > 0 ? `?${q}` : "";
}

/** A processor's admin summary as count and cents. */
async function adminSummary(processor: ProcessorSimulator, from?: string, to?: string) {
  const response = await fetch(`${processor.url}/admin/payments-summary${query(from, to)}`, {
    headers: { "X-Rinha-Token": processor.token },
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  return { count: body.totalRequests as number, cents: cents(body.totalAmount) };
}

/** The backend's summary as count and cents per processor. */
async function backendSummary(apiUrl: string, from?: string, to?: string) {
  const response = await fetch(`${apiUrl}/payments-summary${query(from, to)}`);
  assert.equal(response.status, 200);
  const body = await response.json();
  const part = (p: { totalRequests: number; totalAmount: number }) => ({
    count: p.totalRequests,
    cents: cents(p.totalAmount),
  });
  return { default: part(body.default), fallback: part(body.fallback) };
}

/** The backend's summary equals both processors' admin summaries for the window. */
async function assertConsistent(r: Rig, from?: string, to?: string) {
  const ours = await backendSummary(r.apiUrl, from, to);
  const theirs = {
    default: await adminSummary(r.processors.default, from, to),
    fallback: await adminSummary(r.processors.fallback, from, to),
  };
  assert.deepEqual(ours, theirs, `summary differs for from=${from} to=${to}`);
  return ours;
}

const paidCount = (redis: Redis) => redis.hlen(RINHA_KEYS.paid);
const waitPaid = (redis: Redis, n: number, timeoutMs = 15_000) =>
  waitFor(`${n} payments counted`, async () => await paidCount(redis) >= n, timeoutMs);

async function setProcessor(p: ProcessorSimulator, what: "delay" | "failure", value: unknown) {
  const response = await fetch(`${p.url}/admin/configurations/${what}`, {
    method: "PUT",
    body: JSON.stringify({ [what]: value }),
    headers: { "X-Rinha-Token": p.token },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
}

/** The processor each payment was counted under. */
async function paidBy(redis: Redis, ids: string[]) {
  const values = await redis.hmget(RINHA_KEYS.paid, ...ids);
  return values.map((v) => (v === null ? undefined : parsePaid(v).processor));
}

async function healthSays(redis: Redis, processor: string, failing: boolean) {
  const text = await redis.hget(RINHA_KEYS.health, processor);
  return text !== null && JSON.parse(text).failing === failing;
}

Deno.test("processor simulator: 200 then 422, 500 while failing records nothing, lookup, delay", async () => {
  await using p = ProcessorSimulator.start({ name: "default", delayMs: 60 });
  const id = crypto.randomUUID();
  const body = `{"correlationId":"${id}","amount":19.90,"requestedAt":"2025-07-15T12:34:56.789Z"}`;
  const t0 = performance.now();
  const first = await post(`${p.url}/payments`, body);
  assert.ok(performance.now() - t0 >= 55, "the delay was not applied");
  assert.equal(first.status, 200);
  assert.equal((await first.json()).message, "payment processed successfully");
  const again = await post(`${p.url}/payments`, body.replace(id, id.toUpperCase()));
  assert.equal(again.status, 422, "a correlation id in another case is the same payment");
  await again.body?.cancel();

  const looked = await (await fetch(`${p.url}/payments/${id}`)).json();
  assert.deepEqual(looked, {
    correlationId: id,
    amount: 19.9,
    requestedAt: "2025-07-15T12:34:56.789Z",
  });
  assert.equal((await fetch(`${p.url}/payments/${crypto.randomUUID()}`)).status, 404);

  p.failing = true;
  const failed = await post(`${p.url}/payments`, body.replace(id, crypto.randomUUID()));
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  assert.equal(p.recordedCount, 1);
  const bad = await post(`${p.url}/payments`, '{"correlationId":"nope","amount":1}');
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
}); // deno-fmt-ignore

Deno.test("processor simulator: one health check per window (429 otherwise), 503 while failing", async () => {
  await using p = ProcessorSimulator.start({ name: "fallback", delayMs: 35, healthWindowMs: 300 });
  const health = () => fetch(`${p.url}/payments/service-health`);
  const ok = await health();
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { failing: false, minResponseTime: 35 });
  const limited = await health();
  assert.equal(limited.status, 429);
  await limited.body?.cancel();
  p.failing = true;
  await sleep(320);
  const failing = await health();
  assert.equal(failing.status, 503);
  assert.deepEqual(await failing.json(), { failing: true, minResponseTime: 35 });
  assert.deepEqual([p.stats.healthCalls, p.stats.healthRateLimited], [2, 1]);
}); // deno-fmt-ignore

Deno.test("processor simulator: admin needs the token; summary from/to inclusive; configuration; purge", async () => {
  await using p = ProcessorSimulator.start({ name: "fallback", feeBasisPoints: 1500 });
  const at = ["2025-07-15T12:00:00.000Z", "2025-07-15T12:00:00.001Z", "2025-07-15T12:00:01.000Z"];
  for (const [i, requestedAt] of at.entries()) {
    const body = { correlationId: crypto.randomUUID(), amount: [19.9, 0.1, 1000][i], requestedAt };
    assert.equal((await post(`${p.url}/payments`, JSON.stringify(body))).status, 200);
  }
  const summary = (q: string, token = "123") =>
    fetch(`${p.url}/admin/payments-summary${q}`, { headers: { "X-Rinha-Token": token } });
  assert.equal((await summary("", "wrong")).status, 401);
  assert.equal((await fetch(`${p.url}/admin/payments-summary`)).status, 401);
  assert.deepEqual(await (await summary("")).json(), {
    totalRequests: 3, totalAmount: 1020, totalFee: 153, feePerTransaction: 0.15,
  });
  const window = await (await summary(`?from=${at[0]}&to=${at[1]}`)).json();
  assert.deepEqual(window, { totalRequests: 2, totalAmount: 20, totalFee: 3, feePerTransaction: 0.15 });
  const one = await (await summary(`?from=${at[1]}&to=${at[1]}`)).json();
  assert.equal(one.totalRequests, 1, "both bounds are inclusive");
  const text = await (await summary(`?from=${at[0]}&to=${at[0]}`)).text();
  assert.equal(text, '{"totalRequests":1,"totalAmount":19.90,"totalFee":2.985,"feePerTransaction":0.15}');
  assert.equal((await summary("?from=yesterday")).status, 400);

  const put = (what: string, body: unknown, token = "123") =>
    fetch(`${p.url}/admin/configurations/${what}`, { method: "PUT", body: JSON.stringify(body), headers: { "X-Rinha-Token": token } });
  assert.equal((await put("delay", { delay: 25 })).status, 200);
  assert.equal(p.delayMs, 25);
  assert.equal((await put("failure", { failure: true })).status, 200);
  assert.equal(p.failing, true);
  assert.equal((await put("delay", { delay: -1 })).status, 400);
  assert.equal((await put("token", { token: "s3cret" })).status, 204);
  assert.equal((await summary("")).status, 401, "the old token no longer works");
  const purge = await fetch(`${p.url}/admin/purge-payments`, { method: "POST", headers: { "X-Rinha-Token": "s3cret" } });
  assert.deepEqual(await purge.json(), { message: "All payments purged." });
  assert.equal(p.recordedCount, 0);
}); // deno-fmt-ignore

Deno.test("POST /payments: bad input gets 400/422 with a JSON error and nothing is queued", INTEGRATION, async () => {
  await using r = await rig({ workers: 0 });
  const id = crypto.randomUUID();
  const cases: [string, number][] = [
    ["not json", 400],
    ["[1,2]", 400],
    ["null", 400],
    [`{"amount":19.90}`, 422],
    [`{"correlationId":"1234","amount":19.90}`, 422],
    [`{"correlationId":42,"amount":19.90}`, 422],
    [`{"correlationId":"${id}"}`, 422],
    [`{"correlationId":"${id}","amount":0}`, 422],
    [`{"correlationId":"${id}","amount":-5}`, 422],
    [`{"correlationId":"${id}","amount":19.999}`, 422],
    [`{"correlationId":"${id}","amount":"19.90"}`, 422],
    [`{"correlationId":"${id}","amount":1e300}`, 422],
    [`{"correlationId":"${id}","amount":1, "pad":"${"x".repeat(5000)}"}`, 413],
  ];
  for (const [body, status] of cases) {
    const response = await post(`${r.apiUrl}/payments`, body);
    assert.equal(response.status, status, `body ${body.slice(0, 60)}`);
    assert.equal(typeof (await response.json()).error, "string");
  }
  assert.equal(await r.redis.xlen(RINHA_KEYS.queue), 0);
  assert.equal(await r.redis.hlen(RINHA_KEYS.amounts), 0);
  const badWindow = await fetch(`${r.apiUrl}/payments-summary?from=2025-13-01T00:00:00Z`);
  assert.equal(badWindow.status, 400);
  await badWindow.body?.cancel();
  assert.equal((await post(`${r.apiUrl}/payments`, `{"correlationId":"${id}","amount":19.9}`)).status, 202);
  assert.equal(await r.redis.xlen(RINHA_KEYS.queue), 1);
}); // deno-fmt-ignore

Deno.test("summary buckets are exact for any window (against a brute-force sum)", INTEGRATION, async () => {
  await using server = await startRedis();
  const redis = client(server.url);
  const store = new RinhaStore(redis);
  await store.ensureGroup();
  const base = Date.parse("2025-07-15T11:58:00.000Z");
  const payments: { ms: number; cents: number; processor: "default" | "fallback" }[] = [];
  for (let i = 0; i < 1500; i++) {
    // Clusters within one millisecond, within seconds, and spread over ~3 hours (several top buckets).
    const spread = [1, 40, 3000, 12_000_000][i % 4];
    // A few right after the epoch: bucket numbers with few digits.
    const ms = i % 50 === 0 ? Math.floor(Math.random() * 3000) : base + Math.floor(Math.random() * spread);
    const p = { ms, cents: 1 + Math.floor(Math.random() * 100_000), processor: i % 3 ? "default" as const : "fallback" as const };
    payments.push(p);
    await store.record({ correlationId: crypto.randomUUID(), processor: p.processor, requestedAtMs: p.ms, cents: p.cents });
  }
  const picks = payments.map((p) => p.ms);
  const point = () => Math.random() < 0.5 ? picks[Math.floor(Math.random() * picks.length)] : base - 5000 + Math.floor(Math.random() * 12_010_000);
  const windows: [number, number][] = [[-8.64e15, 8.64e15], [base, base], [0, base - 1], [0, 9], [5, 1234], [11, 2999]];
  for (let i = 0; i < 300; i++) {
    const [a, b] = [point(), point()];
    windows.push([Math.min(a, b), Math.max(a, b)]);
  }
  for (const [from, to] of windows) {
    const got = await store.summary(from, to);
    for (const processor of ["default", "fallback"] as const) {
      const mine = payments.filter((p) => p.processor === processor && p.ms >= from && p.ms <= to);
      assert.deepEqual(got[processor], { count: mine.length, cents: mine.reduce((s, p) => s + p.cents, 0) }, `window ${from}..${to}`);
    }
  }
  redis.disconnect();
}); // deno-fmt-ignore

Deno.test("healthy processors: every payment paid once by default, summary equals the processors' for several windows", INTEGRATION, async () => {
  await using r = await rig();
  const start = new Date().toISOString();
  const amounts = Array.from({ length: 150 }, (_, i) => [1990, 1, 100_000_00, 33 + i][i % 4]);
  const ids = await pay(r.apiUrl, amounts.slice(0, 75));
  await new Promise((res) => setTimeout(res, 30));
  const middle = new Date().toISOString();
  ids.push(...await pay(r.apiUrl, amounts.slice(75)));
  await waitPaid(r.redis, 150);
  const end = new Date(Date.now() + 1000).toISOString();

  const all = await assertConsistent(r);
  assert.deepEqual(all.default, { count: 150, cents: amounts.reduce((a, b) => a + b, 0) });
  assert.deepEqual(all.fallback, { count: 0, cents: 0 });
  assert.deepEqual(new Set(await paidBy(r.redis, ids)), new Set(["default"]));
  await assertConsistent(r, start, end);
  await assertConsistent(r, start, middle);
  await assertConsistent(r, middle, end);
  await assertConsistent(r, undefined, middle);
  await assertConsistent(r, middle);
  await assertConsistent(r, "2020-01-01T00:00:00.000Z", "2020-01-02T00:00:00.000Z");
  // A window of exactly one recorded requestedAt, both bounds inclusive.
  const one = parsePaid((await r.redis.hget(RINHA_KEYS.paid, ids[7]))!).requestedAtMs;
  const at = new Date(one).toISOString();
  assert.ok((await assertConsistent(r, at, at)).default.count >= 1);
  assert.equal(r.processors.default.stats.paymentRequests, 150, "each payment was sent exactly once");
  assert.equal(await r.redis.xlen(RINHA_KEYS.queue), 0, "recorded entries are acknowledged and deleted");
}); // deno-fmt-ignore

Deno.test("duplicates: the same correlationId twice (API and raw queue entry) is paid and counted once; junk entries dropped", INTEGRATION, async () => {
  await using r = await rig();
  const id = crypto.randomUUID();
  for (const amount of ["19.90", "19.90", "55.00"]) {
    const response = await post(`${r.apiUrl}/payments`, `{"correlationId":"${id}","amount":${amount}}`);
    assert.equal(response.status, 202);
    await response.body?.cancel();
  }
  const upper = await post(`${r.apiUrl}/payments`, `{"correlationId":"${id.toUpperCase()}","amount":19.90}`);
  assert.equal((await upper.json()).status, "duplicate");
  await waitPaid(r.redis, 1);
  // A duplicate that bypassed the ingress mark (e.g. replayed into the stream) is acknowledged unpaid.
  await r.redis.xadd(RINHA_KEYS.queue, "*", "c", id, "a", "1990");
  await waitFor("the raw duplicate to be acknowledged", async () => await r.redis.xlen(RINHA_KEYS.queue) === 0);
  // A malformed entry (not written by the API) is dropped with a warning; the worker carries on.
  await r.redis.xadd(RINHA_KEYS.queue, "*", "c", "not-a-uuid", "a", "abc");
  await waitFor("the malformed entry to be dropped", async () => await r.redis.xlen(RINHA_KEYS.queue) === 0);
  assert.equal(r.workers[0].worker.stats.discarded, 1);
  assert.equal(r.processors.default.stats.paymentRequests, 1, "sent to the processor once");
  assert.deepEqual((await assertConsistent(r)).default, { count: 1, cents: 1990 });
  assert.equal(r.workers[0].worker.stats.alreadyCounted, 1);
}); // deno-fmt-ignore

Deno.test("default fails for a while then recovers: fallback takes the waiting payments, default the later ones", INTEGRATION, async () => {
  await using r = await rig({ default: { failing: true }, worker: { policy: { ...DEFAULT_POLICY, fallbackAfterMs: 150 } } });
  await waitFor("health to report default failing", () => healthSays(r.redis, "default", true));
  const during = await pay(r.apiUrl, Array.from({ length: 60 }, (_, i) => 100 + i));
  await waitPaid(r.redis, 60);
  assert.deepEqual(new Set(await paidBy(r.redis, during)), new Set(["fallback"]));

  await setProcessor(r.processors.default, "failure", false);
  await waitFor("health to report default healthy", () => healthSays(r.redis, "default", false));
  const after = await pay(r.apiUrl, Array.from({ length: 60 }, (_, i) => 1000 + i));
  await waitPaid(r.redis, 120);
  assert.deepEqual(new Set(await paidBy(r.redis, after)), new Set(["default"]));

  const all = await assertConsistent(r);
  assert.equal(all.default.count + all.fallback.count, 120);
  assert.equal(all.fallback.count, 60);
  assert.equal(r.processors.default.recordedCount + r.processors.fallback.recordedCount, 120, "no payment was paid twice");
}); // deno-fmt-ignore

Deno.test("default down briefly: payments wait for it (cheaper) instead of going to fallback", INTEGRATION, async () => {
  await using r = await rig({ default: { failing: true }, worker: { policy: { ...DEFAULT_POLICY, fallbackAfterMs: 5000 } } });
  await waitFor("health to report default failing", () => healthSays(r.redis, "default", true));
  const ids = await pay(r.apiUrl, Array.from({ length: 40 }, () => 1990));
  await new Promise((res) => setTimeout(res, 400));
  assert.equal(await paidCount(r.redis), 0);
  await setProcessor(r.processors.default, "failure", false);
  await waitPaid(r.redis, 40);
  assert.deepEqual(new Set(await paidBy(r.redis, ids)), new Set(["default"]));
  assert.equal(r.processors.fallback.stats.paymentRequests, 0);
  await assertConsistent(r);
}); // deno-fmt-ignore

Deno.test("both slow: all paid, default preferred while not much slower, summary exact", INTEGRATION, async () => {
  await using r = await rig({ default: { delayMs: 150 }, fallback: { delayMs: 100 } });
  await waitFor("health reports", async () => await r.redis.hlen(RINHA_KEYS.health) === 2);
  const before = Date.now();
  const ids = await pay(r.apiUrl, Array.from({ length: 120 }, (_, i) => 500 + i));
  await waitPaid(r.redis, 120);
  assert.deepEqual(new Set(await paidBy(r.redis, ids)), new Set(["default"]));
  // requestedAt leads the send by default's minResponseTime: it is about when default records it.
  const at = await r.redis.hmget(RINHA_KEYS.paid, ...ids);
  assert.ok(at.every((v) => parsePaid(v!).requestedAtMs >= before + 150));
  await assertConsistent(r);

  // Default now far slower than fallback: new payments go to fallback.
  await setProcessor(r.processors.default, "delay", 1500);
  await waitFor("health to report the slow default", async () => JSON.parse((await r.redis.hget(RINHA_KEYS.health, "default"))!).minResponseTime === 1500);
  const later = await pay(r.apiUrl, Array.from({ length: 30 }, () => 1990));
  await waitPaid(r.redis, 150);
  assert.deepEqual(new Set(await paidBy(r.redis, later)), new Set(["fallback"]));
  await assertConsistent(r);
}); // deno-fmt-ignore

Deno.test("both fail, then recover: payments wait with backoff, none lost or doubled", INTEGRATION, async () => {
  await using r = await rig({ default: { failing: true }, fallback: { failing: true }, worker: { policy: { ...DEFAULT_POLICY, fallbackAfterMs: 0 } } });
  await waitFor("health to report both failing", async () => await healthSays(r.redis, "default", true) && await healthSays(r.redis, "fallback", true));
  await pay(r.apiUrl, Array.from({ length: 80 }, () => 1990));
  await new Promise((res) => setTimeout(res, 600));
  assert.equal(await paidCount(r.redis), 0);
  const probes = r.processors.default.stats.paymentRequests + r.processors.fallback.stats.paymentRequests;
  assert.ok(probes < 20, `only probes reach failing processors, got ${probes}`);
  await setProcessor(r.processors.fallback, "failure", false);
  await setProcessor(r.processors.default, "failure", false);
  await waitPaid(r.redis, 80);
  const all = await assertConsistent(r);
  assert.equal(all.default.count + all.fallback.count, 80);
  assert.equal(r.processors.default.recordedCount + r.processors.fallback.recordedCount, 80);
}); // deno-fmt-ignore

Deno.test("one elected health checker: at most one health call per window per processor across workers", INTEGRATION, async () => {
  await using r = await rig({ workers: 3 });
  await new Promise((res) => setTimeout(res, 1500));
  const leaders = r.workers.filter((w) => w.worker.health.isLeader);
  assert.equal(leaders.length, 1);
  leaders[0].worker.stop(); // the checker goes away; another one takes over
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(r.workers.filter((w) => w.worker.health.isLeader).length, 1);
  for (const p of [r.processors.default, r.processors.fallback]) {
    assert.equal(p.stats.healthRateLimited, 0, "a health call broke the rate limit");
    // 3 s at one call per 300 ms (window + gate margin) at most, with a pause during the handover.
    assert.ok(p.stats.healthCalls >= 5 && p.stats.healthCalls <= 11, `${p.stats.healthCalls} calls`);
  }
}); // deno-fmt-ignore

Deno.test("a worker SIGKILLed mid-payment: another reclaims, nothing lost, nothing counted twice", INTEGRATION, async () => {
  await using r = await rig({ default: { delayMs: 400 }, workers: 0 });
  const victim = new ChildTool("rinha/rinha_command.ts", {
    args: ["worker", "--consumer-name", "victim"],
    env: {
      REDIS_URL: r.redisUrl,
      PROCESSOR_DEFAULT_URL: r.processors.default.url,
      PROCESSOR_FALLBACK_URL: r.processors.fallback.url,
      IDLE_THRESHOLD_MS: "600",
      HEALTH_INTERVAL_MS: String(HEALTH_MS),
      LOG_LEVEL: "warn",
    },
  });
  const amounts = Array.from({ length: 100 }, (_, i) => 1990 + i);
  await pay(r.apiUrl, amounts);
  await waitFor("the victim to have payments in flight", () => r.processors.default.stats.inProgress >= 30);
  victim.kill("SIGKILL");
  assert.equal((await victim.finished()).code, 137);
  const holding = await r.redis.xpending(RINHA_KEYS.queue, RINHA_KEYS.group) as [number];
  assert.ok(holding[0] >= 30, "the victim died holding payments");

  const heir = r.startWorker({ consumerName: "heir" });
  await waitPaid(r.redis, 100);
  const all = await assertConsistent(r);
  // Payments the victim had begun are bound to default; the others may go to the faster fallback.
  assert.equal(all.default.count + all.fallback.count, 100);
  assert.equal(all.default.cents + all.fallback.cents, amounts.reduce((a, b) => a + b, 0));
  assert.equal(r.processors.default.recordedCount + r.processors.fallback.recordedCount, 100, "no payment was paid twice");
  assert.ok(heir.stats.reclaimed >= 30, `reclaimed ${heir.stats.reclaimed}`);
  assert.ok(heir.stats.duplicates >= 1, "the victim's in-flight payments came back as 422 and were counted once");
  await waitFor("the queue to drain", async () => (await r.redis.xpending(RINHA_KEYS.queue, RINHA_KEYS.group) as [number])[0] === 0);
});
