/**
 * The dashboard against real redis-server processes: where a payment is (confirmed, duplicate,
 * pending on whom, queued, dead-lettered, not found) within the bounded windows; the newest dead
 * letters by code; the HTTP server's keys, sessions and origin checks, its live feed and the
 * replay it offers; `deno task dashboard` refusing to listen off loopback without a key; and the
 * committed page bundle being what the build makes. The page itself: dashboard_browser_test.ts.
 */
import assert from "node:assert/strict";
import {
  connectPostgres,
  encodeBatch,
  migrate,
  recentDeadLetters,
  StreamConsumer,
  writeBatches,
} from "@fastpix/consumer";
import type { Logger } from "@fastpix/infra";
import { markValue } from "@fastpix/pix";
import { streamEnqueuer } from "@fastpix/queue";
import {
  type DashboardOptions,
  ledgerRowReader,
  type LookupOptions,
  lookupPayment,
  type RunningDashboard,
  serveDashboard,
} from "@fastpix/dashboard";
import { buildBundle, committedBundle } from "../dashboard/build.ts";
import {
  addRaw,
  ChildTool,
  client,
  consumerOptions,
  consumeUntil,
  INTEGRATION,
  sendPayments,
  startPostgres,
  startRedis,
  waitFor,
} from "./_helpers.ts";

const STREAM = "pix_payments";
const GROUP = "pix_consumers";
const PREFIX = "backend_bacen_response_";
const KEY = "test-dashboard-key-0123456789";
const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const lookupOptions = (overrides: Partial<LookupOptions> = {}): LookupOptions => ({
  stream: STREAM,
  group: GROUP,
  responsePrefix: PREFIX,
  scanLimit: 1000,
  reveal: false,
  ...overrides,
});

const now = () => new Date().toISOString();

Deno.test(
  "lookup: confirmed with its confirmation, a duplicate, dead-lettered (masked), pending on a " +
    "consumer, queued, a fingerprinted mark, not found",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    try {
      const [paid] = await sendPayments(redis, 1, { backendIds: ["7"] });
      await streamEnqueuer(STREAM).enqueue(redis, [paid]); // the same payment again
      await addRaw(redis, {
        transaction_id: "dlq-1",
        backend_id: "7",
        amount: "10.00",
        timestamp: now(),
        payer_key: "not a key at all",
        payer_name: "Maria Souza",
      });
      const consumer = new StreamConsumer(consumerOptions(server.url, { consumerName: "worker" }));
      await consumeUntil(consumer, async () => (await redis.xlen(`${STREAM}:dlq`)) === 1);

      // A payment a consumer took and sits on; one not yet delivered.
      const pendingId = await addRaw(redis, { transaction_id: "pending-1", backend_id: "7" });
      await redis.xreadgroup("GROUP", GROUP, "stuck", "COUNT", 1, "STREAMS", STREAM, ">");
      const queuedId = await addRaw(redis, { transaction_id: "queued-1", backend_id: "7" });
      // A mark as the consumers will soon write it: the stream id, then a fingerprint.
      const fpId = await addRaw(redis, { transaction_id: "fp-1", backend_id: "7" });
      await redis.set("pix:done:fp-1", markValue({ fingerprint: "Zx9_-0aB", origin: fpId }));

      const confirmed = await lookupPayment(redis, paid.transaction_id, lookupOptions());
      assert.equal(confirmed.state, "confirmed", confirmed.summary);
      const [first, second] = confirmed.entries;
      assert.equal(confirmed.mark?.streamId, first.id);
      assert.ok(confirmed.mark!.ttlMs! > 0);
      assert.match(confirmed.summary, new RegExp(`by stream entry ${first.id}`));
      assert.deepEqual(
        confirmed.entries.map((e) => [e.counted, e.delivery, e.fields.amount]),
        [[true, "acknowledged", paid.amount], [false, "acknowledged", paid.amount]],
      );
      assert.ok(second.id > first.id);
      assert.deepEqual(
        confirmed.confirmations.map((c) => [c.stream, c.status, c.processedAmount]),
        [[`${PREFIX}7`, "confirmed", paid.amount], [`${PREFIX}7`, "duplicate", "0.00"]],
      );
      assert.equal(confirmed.duplicates, 1);

      const dead = await lookupPayment(redis, "dlq-1", lookupOptions());
      assert.equal(dead.state, "dead_lettered", dead.summary);
      const [letter] = dead.deadLetters;
      assert.equal(letter.errorCode, 1501);
      assert.equal(letter.codeName, "PAYER_KEY_UNKNOWN_TYPE");
      assert.equal(letter.consumer, "worker");
      assert.equal(letter.fields?.payer_key, "no•••ll");
      assert.equal(letter.fields?.payer_name, "Ma•••za");
      assert.deepEqual(letter.masked, ["payer_key", "payer_name"]);
      assert.doesNotMatch(JSON.stringify(dead), /not a key at all|Maria Souza/);
      assert.match(dead.summary, /^Dead-lettered with code 1501 PAYER_KEY_UNKNOWN_TYPE: /);
      assert.deepEqual(dead.confirmations.map((c) => [c.status, c.errorCode]), [
        ["rejected", "1501"],
      ]);
      assert.equal(dead.entries[0].delivery, "acknowledged");
      const revealed = await lookupPayment(redis, "dlq-1", lookupOptions({ reveal: true }));
      assert.equal(revealed.deadLetters[0].fields?.payer_key, "not a key at all");
      // Rejection reasons never quote the key (personal data): revealing shows the field only.
      assert.match(revealed.deadLetters[0].reason, /^Cannot accept payer_key of 16 characters/);
      assert.doesNotMatch(revealed.deadLetters[0].reason, /not a key at all/);

      const pending = await lookupPayment(redis, "pending-1", lookupOptions());
      assert.equal(pending.state, "pending", pending.summary);
      assert.equal(pending.entries[0].id, pendingId);
      assert.equal(pending.entries[0].pending?.consumer, "stuck");
      assert.equal(pending.entries[0].pending?.deliveries, 1);
      assert.match(pending.summary, /^Pending on consumer stuck for .* \(delivered once\)/);

      const queued = await lookupPayment(redis, "queued-1", lookupOptions());
      assert.equal(queued.state, "queued", queued.summary);
      assert.equal(queued.entries[0].id, queuedId);

      const fingerprinted = await lookupPayment(redis, "fp-1", lookupOptions());
      assert.equal(fingerprinted.state, "confirmed");
      assert.equal(fingerprinted.mark?.streamId, fpId);
      assert.equal(fingerprinted.entries[0].counted, true);

      const nobody = await lookupPayment(redis, "nobody", lookupOptions());
      assert.equal(nobody.state, "not_found");
      assert.match(nobody.summary, /all \d+ entries of pix_payments/);
      assert.match(nobody.summary, /Older entries are not searched/);
    } finally {
      redis.disconnect();
    }
  },
);

Deno.test(
  "lookup reads bounded windows: the newest entries, from the oldest pending one, past the last " +
    "delivered; an entry outside them is reported not found in the newest N",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    try {
      await redis.xgroup("CREATE", STREAM, GROUP, "$", "MKSTREAM");
      await addRaw(redis, { transaction_id: "old-pending", backend_id: "1" });
      await redis.xreadgroup("GROUP", GROUP, "stuck", "COUNT", 1, "STREAMS", STREAM, ">");
      for (let i = 0; i < 50; i++) await addRaw(redis, { transaction_id: `acked-${i}` });
      const read = await redis.xreadgroup(
        "GROUP",
        GROUP,
        "w",
        "COUNT",
        50,
        "STREAMS",
        STREAM,
        ">",
      ) as [string, [string, string[]][]][];
      await redis.xack(STREAM, GROUP, ...read[0][1].map(([id]) => id));
      for (let i = 0; i < 30; i++) await addRaw(redis, { transaction_id: `queued-${i}` });

      const options = lookupOptions({ scanLimit: 10 });
      const pending = await lookupPayment(redis, "old-pending", options);
      assert.equal(pending.state, "pending", pending.summary);
      assert.ok(
        pending.searched.some((s) => /^10 entries of pix_payments from its oldest/.test(s)),
      );
      const queued = await lookupPayment(redis, "queued-0", options);
      assert.equal(queued.state, "queued", queued.summary);
      assert.ok(queued.searched.some((s) => /past the group's last delivered id/.test(s)));
      const missed = await lookupPayment(redis, "acked-25", options);
      assert.equal(missed.state, "not_found");
      assert.match(missed.summary, /the newest 10 entries of pix_payments \(from \d+-\d+\)/);
      // The same payment with a window wide enough: processed, acknowledged, no mark.
      const seen = await lookupPayment(redis, "acked-25", lookupOptions({ scanLimit: 100 }));
      assert.equal(seen.state, "acknowledged", seen.summary);
    } finally {
      redis.disconnect();
    }
  },
);

Deno.test(
  "recentDeadLetters: newest first, by code, looking at a bounded number",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const code = i === 0 ? "9999" : i % 2 ? "1202" : "2001";
        ids.push(
          (await redis.xadd(`${STREAM}:dlq`, "*", "original_id", `${i}-1`, "error_code", code))!,
        );
      }
      const newest = await recentDeadLetters(redis, STREAM, { count: 5 });
      assert.deepEqual(newest.letters.map((l) => l.id), ids.slice(-5).reverse());
      const some = await recentDeadLetters(redis, STREAM, { count: 3, code: 2001 });
      assert.deepEqual(some.letters.map((l) => l.errorCode), [2001, 2001, 2001]);
      assert.equal(some.letters[0].id, ids[28]);
      const rare = await recentDeadLetters(redis, STREAM, { count: 5, code: 9999, scan: 10 });
      assert.deepEqual(rare, { letters: [], scanned: 10, complete: false });
      const all = await recentDeadLetters(redis, STREAM, { count: 5, code: 9999, scan: 100 });
      assert.deepEqual(all.letters.map((l) => l.id), [ids[0]]);
      assert.equal(all.scanned, 30);
      assert.equal(all.complete, true);
    } finally {
      redis.disconnect();
    }
  },
);

function dashboardOptions(
  url: string,
  overrides: Partial<DashboardOptions> = {},
): DashboardOptions {
  return {
    redisUrl: url,
    stream: STREAM,
    group: GROUP,
    responsePrefix: PREFIX,
    idleThresholdMs: 1000,
    intervalMs: 100,
    historyPoints: 100,
    scanCount: 1000,
    lookupScan: 1000,
    deadLetterCount: 100,
    deadLetterScan: 1000,
    apiKeys: [KEY],
    hostname: "127.0.0.1",
    port: 0,
    logger: SILENT,
    ...overrides,
  };
}

/** One Server-Sent Event. */
// deno-lint-ignore no-explicit-any
type Event = { event: string; data: any };

/** Reads Server-Sent Events from `response` until `count` events are in. */
async function readEvents(response: Response, count: number): Promise<Event[]> {
  const events: Event[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

Deno.test(
  "server: API key by header, ?key= or login form; sessions; origin checks; live feed; replay",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    let dash: RunningDashboard | undefined;
    try {
      dash = await serveDashboard(dashboardOptions(server.url));
      const url = dash.url;
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetch(url + path, { headers, redirect: "manual" });

      // No key: the page sends to the login form, the API answers 401.
      const page = await get("/");
      await page.body?.cancel();
      assert.equal(page.status, 303);
      assert.equal(page.headers.get("location"), "/login");
      const login = await get("/login");
      assert.match(await login.text(), /<form method="post" action="\/login"/);
      assert.match(login.headers.get("content-security-policy")!, /script-src 'self'/);
      const denied = await get("/api/snapshot");
      assert.equal(denied.status, 401);
      assert.deepEqual(await denied.json(), { error: "an API key is required" });
      assert.equal((await (await get("/assets/app.js")).text()).length > 10_000, true);

      // A key header; a wrong one.
      const withKey = await get("/api/snapshot", { "x-api-key": KEY });
      assert.equal(withKey.status, 200);
      assert.equal((await withKey.json()).view.stream, STREAM);
      const wrongKey = await get("/api/snapshot", { "x-api-key": `${KEY}-wrong` });
      await wrongKey.body?.cancel();
      assert.equal(wrongKey.status, 401);

      // ?key= once: a session cookie, and the key leaves the address bar.
      const once = await get(`/?key=${KEY}`);
      await once.body?.cancel();
      assert.equal(once.status, 303);
      assert.equal(once.headers.get("location"), "/");
      const cookie = once.headers.get("set-cookie")!.split(";")[0];
      assert.match(once.headers.get("set-cookie")!, /HttpOnly; SameSite=Strict/);
      const index = await get("/", { cookie });
      assert.match(await index.text(), /<script src="\/assets\/app\.js" defer>/);

      // The login form.
      const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
        fetch(url + path, { method: "POST", body, headers, redirect: "manual" });
      const failed = await post("/login", new URLSearchParams({ key: "not-the-key-at-all" }));
      await failed.body?.cancel();
      assert.equal(failed.headers.get("location"), "/login?failed=1");
      assert.equal(failed.headers.get("set-cookie"), null);
      const ok = await post("/login", new URLSearchParams({ key: KEY }));
      await ok.body?.cancel();
      assert.equal(ok.headers.get("location"), "/");
      const formCookie = ok.headers.get("set-cookie")!.split(";")[0];
      assert.equal((await get("/api/history", { cookie: formCookie })).status, 200);

      // Changes come from the page's own origin only.
      const letterId = await redis.xadd(
        `${STREAM}:dlq`,
        "*",
        "original_id",
        "1-1",
        "fields",
        JSON.stringify({ transaction_id: "replay-me", backend_id: "1", amount: "5.00" }),
        "error_code",
        "2001",
        "reason",
        "delivered 5 times",
      );
      const body = JSON.stringify({ ids: [letterId] });
      const json = { "content-type": "application/json", cookie };
      const foreign = await post("/api/dead-letters/replay", body, {
        ...json,
        origin: "http://evil.example",
      });
      assert.equal(foreign.status, 403);
      await foreign.body?.cancel();
      const notJson = await post("/api/dead-letters/replay", body, { cookie, origin: url });
      assert.equal(notJson.status, 415);
      await notJson.body?.cancel();
      assert.equal(await redis.xlen(`${STREAM}:dlq`), 1);

      // The list, then the replay: the letter's fields are back on the stream.
      const list = await (await get("/api/dead-letters?code=2001", { cookie })).json();
      assert.deepEqual(list.letters.map((l: { id: string }) => l.id), [letterId]);
      assert.equal(list.letters[0].codeName, "MAX_DELIVERIES_EXCEEDED");
      const replay = await post("/api/dead-letters/replay", body, { ...json, origin: url });
      assert.equal(replay.status, 200);
      const result = await replay.json();
      assert.deepEqual(result.counts, { replayed: 1 });
      const [[newId, fields]] = await redis.xrange(STREAM, "-", "+");
      assert.equal(result.outcomes[0].detail, newId);
      assert.deepEqual(fields, [
        "transaction_id",
        "replay-me",
        "backend_id",
        "1",
        "amount",
        "5.00",
      ]);
      assert.equal(await redis.xlen(`${STREAM}:dlq`), 0);

      const badLookup = await get("/api/lookup?tx=", { cookie });
      assert.equal(badLookup.status, 400);
      await badLookup.body?.cancel();
      const found = await (await get("/api/lookup?tx=replay-me", { cookie })).json();
      assert.equal(found.state, "queued");

      // The live feed: history and the last refresh, then one event per refresh.
      const feed = await get("/api/events", { cookie });
      assert.equal(feed.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const [init, ...samples] = await readEvents(feed, 3);
      assert.equal(init.event, "init");
      assert.equal(init.data.auth, true);
      assert.ok(init.data.history.length >= 1);
      assert.deepEqual(samples.map((s) => s.event), ["sample", "sample"]);
      assert.ok(samples[1].data.point.t > samples[0].data.point.t);
      assert.equal(samples[1].data.view.streamInfo.length, 1);

      const logout = await post("/logout", "", { cookie, origin: url });
      await logout.body?.cancel();
      assert.equal((await get("/api/history", { cookie })).status, 401);
    } finally {
      await dash?.stop();
      redis.disconnect();
    }
  },
);

Deno.test(
  "server without keys: open on loopback, but a foreign Host name (DNS rebinding) is refused",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const dash = await serveDashboard(dashboardOptions(server.url, { apiKeys: [] }));
    try {
      const page = await fetch(dash.url + "/", { redirect: "manual" });
      assert.equal(page.status, 200);
      await page.body?.cancel();
      // fetch() sets Host itself: a raw request names another one.
      const { port } = dash.server.addr;
      const status = async (host: string) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(new TextEncoder().encode(
          `GET /api/snapshot HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
        ));
        const reply = new TextDecoder().decode(await new Response(conn.readable).bytes());
        return Number(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1]);
      };
      assert.equal(await status("attacker.example"), 403);
      assert.equal(await status(`attacker.example:${port}`), 403);
      assert.equal(await status(`localhost:${port}`), 200);
      const login = await fetch(dash.url + "/login", { redirect: "manual" });
      assert.equal(login.headers.get("location"), "/");
      await login.body?.cancel();
    } finally {
      await dash.stop();
    }
  },
);

Deno.test(
  "with a ledger: the lookup reads the payment's row, the page gets the ledger's statistics",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    await using pg = await startPostgres();
    const dsn = await pg.createDatabase("dashboard");
    const sql = connectPostgres(dsn);
    let dash: RunningDashboard | undefined;
    const redis = client(server.url);
    try {
      await migrate(sql);
      const t = Date.now() - 1000;
      await writeBatches(sql, [encodeBatch({
        id: "01900000-0000-7000-8000-0000000000d1",
        stream: STREAM,
        consumer: "c1",
        appliedMs: Date.now(),
        processingMs: 3,
        rows: [
          [`${t}-0`, "ledger-done", "4", "10.50", "done", null, null, 1],
          [`${t}-1`, "ledger-error", "4", null, "error", 1202, "Cannot parse amount", 1],
        ],
      })]);
      // Nothing left in Redis (mark expired, entry trimmed): only the ledger knows it.
      const options = lookupOptions({ ledger: ledgerRowReader(sql) });
      const done = await lookupPayment(redis, "ledger-done", options);
      assert.equal(done.state, "ledger_only", done.summary);
      assert.deepEqual(
        [done.ledger?.status, done.ledger?.amount, done.ledger?.backendId, done.ledger?.streamId],
        ["done", "10.50", "4", `${t}-0`],
      );
      assert.ok(done.searched.includes("the ledger (PostgreSQL)"));
      const error = await lookupPayment(redis, "ledger-error", options);
      assert.deepEqual([error.ledger?.status, error.ledger?.errorCode], ["error", 1202]);
      const none = await lookupPayment(redis, "nowhere", options);
      assert.equal(none.ledger, null);
      assert.equal(none.state, "not_found");
      const without = await lookupPayment(redis, "ledger-done", lookupOptions());
      assert.equal("ledger" in without, false);

      dash = await serveDashboard(dashboardOptions(server.url, { postgresDsn: dsn, apiKeys: [] }));
      const view = (await (await fetch(`${dash.url}/api/snapshot`)).json()).view;
      assert.deepEqual(
        view.ledger.totals.map((r: { status: string; payments: number }) => [r.status, r.payments]),
        [["done", 1], ["error", 1]],
      );
      const found = await (await fetch(`${dash.url}/api/lookup?tx=ledger-done`)).json();
      assert.equal(found.state, "ledger_only");
    } finally {
      await dash?.stop();
      await sql.end();
      redis.disconnect();
    }
  },
);

/** A port that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test(
  "deno task dashboard: off loopback it needs an API key, and with one it asks for it",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const tool = (args: string[], env: Record<string, string>) =>
      new ChildTool("dashboard/dashboard_command.ts", {
        args,
        env: {
          REDIS_URL: server.url,
          LOG_LEVEL: "info",
          DASHBOARD_API_KEYS: "",
          GATEWAY_API_KEYS: "",
          ...env,
        },
      });
    const refused = await tool(["--hostname", "0.0.0.0", "--port", "0"], {}).finished();
    assert.equal(refused.code, 2, refused.output);
    assert.match(refused.output, /^dashboard: Listening on 0\.0\.0\.0 needs an API key: set /m);
    const byEnv = await tool(["--port", "0"], { HOST: "0.0.0.0" }).finished();
    assert.equal(byEnv.code, 2, byEnv.output);
    const short = await tool(["--port", "0"], { HOST: "0.0.0.0", GATEWAY_API_KEYS: "short" })
      .finished();
    assert.equal(short.code, 2, short.output);
    assert.match(short.output, /GATEWAY_API_KEYS: key 1 has 5 characters; at least 16/);

    // The gateway's keys serve when the dashboard has none of its own.
    const port = freePort();
    const running = tool(["--port", String(port)], { HOST: "0.0.0.0", GATEWAY_API_KEYS: KEY });
    try {
      const at = `http://127.0.0.1:${port}/api/snapshot`;
      await waitFor("the dashboard to answer", async () => {
        const r = await fetch(at).catch(() => undefined);
        await r?.body?.cancel();
        return r?.status === 401;
      }, 60_000);
      const ok = await fetch(at, { headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    } finally {
      running.kill("SIGTERM");
    }
    const done = await running.finished();
    assert.equal(done.code, 0, done.output);
    assert.match(done.output, /listening on http:\/\/0\.0\.0\.0:\d+ .*API key required/);
    assert.match(done.output, /API keys from GATEWAY_API_KEYS/);
  },
);

Deno.test("the committed page bundle (dashboard/web/dist) is what dashboard:build makes", async () => {
  const built = await buildBundle();
  assert.deepEqual([...built.keys()].sort(), ["app.css", "app.js"]);
  const committed = await committedBundle(built.keys());
  for (const [name, text] of built) {
    assert.ok(
      committed.get(name) === text,
      `dashboard/web/dist/${name} is out of date: run deno task dashboard:build and commit it`,
    );
  }
});
