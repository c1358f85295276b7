/**
 * `deno task dlq` against real redis-server processes: replays and purges racing each other account
 * for every dead letter exactly once, a letter whose payment is already processed is not
 * re-enqueued, an unknown id stops the run, and `list` renders page by page.
 */
import assert from "node:assert/strict";
import {
  deadLetterPages,
  type DeadLetterReport,
  purgeDeadLetters,
  replayDeadLetters,
} from "@fastpix/consumer";
import { writeDeadLetterTable } from "../consumer/dlq_table.ts";
import { dlqKey, fieldsToRecord, streamKeys } from "@fastpix/pix";
import type { Redis } from "@fastpix/infra";
import { ChildTool, client, INTEGRATION, startRedis } from "./_helpers.ts";

/**
 * Dead-letters `count` payments `tx-0` … straight into `<stream>:dlq`, as the batch script writes
 * them; resolves to the letters' ids.
 */
async function plantLetters(redis: Redis, count: number, stream = "pix_payments") {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      const fields = {
        transaction_id: `tx-${j}`,
        backend_id: "1",
        amount: `${j + 1}.00`,
        timestamp: "2026-01-01T00:00:00.000Z",
      };
      pipeline.xadd(
        dlqKey(stream),
        "*",
        ...["original_id", `1700000000000-${j}`, "fields", JSON.stringify(fields)],
        ...["error_code", "2001", "reason", "settlement refused", "deliveries", "6"],
        ...["consumer", "c1", "failed_at", "2026-01-01T00:00:01.000Z"],
      );
    }
    for (const [error, id] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      ids.push(String(id));
    }
  }
  return ids;
}

/** The transaction ids on the payment stream, in order. */
async function enqueuedTransactions(redis: Redis, stream = "pix_payments") {
  return (await redis.xrange(stream, "-", "+")).map(([, f]) => fieldsToRecord(f).transaction_id);
}

const dlq = (url: string, ...args: string[]) =>
  new ChildTool("consumer/dlq_command.ts", { args, env: { REDIS_URL: url } });

/** Asserts the outcomes of runs that raced over `letters` take every letter exactly once. */
function assertExactPartition(letters: string[], ...reports: DeadLetterReport[]) {
  const taken = reports.flatMap((r) => [...r.replayed.keys(), ...r.purged]);
  assert.equal(taken.length, letters.length, "every letter replayed or purged exactly once");
  assert.deepEqual(new Set(taken), new Set(letters));
  // A letter one run found gone was taken by another.
  for (const [i, r] of reports.entries()) {
    const others = new Set(
      reports.filter((_, j) => j !== i).flatMap((o) => [
        ...o.replayed.keys(),
        ...o.purged,
      ]),
    );
    assert.ok(r.gone.every((id) => others.has(id)));
    assert.equal(r.unknown.length + r.skipped.size + r.processed.size, 0);
  }
}

const RACES = [
  [
    "replay",
    "replay",
    "two replays of every dead letter at once re-enqueue each letter exactly once",
  ],
  ["replay", "purge", "a replay racing a purge: every dead letter is either replayed or purged"],
] as const;

for (const [first, second, title] of RACES) {
  Deno.test(title, INTEGRATION, async () => {
    await using server = await startRedis();
    const [redis, a, b] = [client(server.url), client(server.url), client(server.url)];
    const letters = await plantLetters(redis, 6000);
    const run = { replay: replayDeadLetters, purge: purgeDeadLetters };
    const reports = await Promise.all([
      run[first](a, "pix_payments", { all: true }),
      run[second](b, "pix_payments", { all: true }),
    ]);
    console.log(
      reports.map((r, i) =>
        `${[first, second][i]}: ${r.replayed.size} replayed, ${r.purged.length} purged, ` +
        `${r.gone.length} already gone`
      ).join("; "),
    );
    assertExactPartition(letters, ...reports);
    // The stream gained exactly the replayed letters' payments, each once: none that was purged.
    const replayed = new Map(reports.flatMap((r) => [...r.replayed]).map(([dl, id]) => [id, dl]));
    const enqueued = await redis.xrange("pix_payments", "-", "+");
    assert.equal(enqueued.length, replayed.size);
    for (const [id, f] of enqueued) {
      const tx = fieldsToRecord(f).transaction_id;
      assert.equal(`tx-${letters.indexOf(replayed.get(id)!)}`, tx);
    }
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);
    for (const r of [redis, a, b]) r.disconnect();
  });
}

Deno.test(
  "deno task dlq: replay --all and purge --all run at once report counts that add up",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    await plantLetters(redis, 20_000);
    const [replay, purge] = await Promise.all([
      dlq(server.url, "replay", "--all").finished(),
      dlq(server.url, "purge", "--all").finished(),
    ]);
    assert.equal(replay.code, 0, replay.output);
    assert.equal(purge.code, 0, purge.output);
    console.log(replay.output.split("\n")[0]);
    console.log(purge.output.split("\n")[0]);
    const count = (pattern: RegExp, output: string) =>
      Number(pattern.exec(output)?.[1]?.replaceAll(",", ""));
    const replayed = count(
      /^replayed ([\d,]+) dead letters onto pix_payments; 0 already processed/,
      replay.output,
    );
    const purged = count(/^purged ([\d,]+) dead letters from pix_payments:dlq/, purge.output);
    assert.equal(replayed + purged, 20_000, replay.output + purge.output);
    const enqueued = await enqueuedTransactions(redis);
    assert.equal(enqueued.length, replayed);
    assert.equal(new Set(enqueued).size, replayed);
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);
    redis.disconnect();
  },
);

Deno.test(
  "deno task dlq: an id that is no dead letter stops replay and purge in one line, exit 2",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const [letter] = await plantLetters(redis, 1);
    for (const action of ["replay", "purge"]) {
      const run = await dlq(server.url, action, letter, "1-1").finished();
      assert.equal(run.code, 2, run.output);
      assert.equal(
        run.output.trim(),
        `dlq: 1 of the ids given is not a dead letter in pix_payments:dlq (1-1); nothing was ${
          action === "replay" ? "replayed" : "purged"
        }: see deno task dlq list`,
      );
    }
    // Nothing was done with the letter that exists.
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 1);
    assert.equal(await redis.exists("pix_payments"), 0);
    const known = await dlq(server.url, "purge", letter).finished();
    assert.equal(known.code, 0, known.output);
    assert.equal(
      known.output.trim(),
      "purged 1 dead letters from pix_payments:dlq; 0 already gone, 0 skipped",
    );
    redis.disconnect();
  },
);

Deno.test(
  "replay deletes a dead letter whose payment is already processed instead of re-enqueueing it",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const letters = await plantLetters(redis, 3);
    await redis.set("pix:done:tx-1", "1700000000000-1");
    const run = await dlq(server.url, "replay", "--all").finished();
    assert.equal(run.code, 0, run.output);
    assert.equal(
      run.output.trim(),
      [
        "replayed 2 dead letters onto pix_payments; 1 already processed (deleted, not re-enqueued), 0 already gone, 0 skipped",
        `  already processed: ${letters[1]} (transaction tx-1)`,
      ].join("\n"),
    );
    assert.deepEqual(await enqueuedTransactions(redis), ["tx-0", "tx-2"]);
    assert.equal(await redis.xlen(dlqKey("pix_payments")), 0);

    // A partition's stream: its marks carry the partition's tag.
    const partition = streamKeys("pix_payments", "p0.3");
    const [letter] = await plantLetters(redis, 1, partition.stream);
    await redis.set(`${partition.markPrefix}tx-0`, "1700000000000-0");
    const report = await replayDeadLetters(redis, partition.stream, { ids: [letter] });
    assert.deepEqual([...report.processed], [[letter, "tx-0"]]);
    assert.equal(report.replayed.size, 0);
    assert.equal(await redis.exists(partition.stream), 0);
    redis.disconnect();
  },
);

Deno.test(
  "dlq list renders the table page by page: one write per XRANGE page, never all rows at once",
  INTEGRATION,
  async () => {
    await using server = await startRedis();
    const redis = client(server.url);
    const letters = await plantLetters(redis, 2500);
    let xranges = 0;
    const xrange = redis.xrange.bind(redis);
    redis.xrange = ((...args: Parameters<typeof xrange>) => {
      xranges++;
      return xrange(...args);
    }) as typeof redis.xrange;
    const writes: { xranges: number; rows: string[] }[] = [];
    const shown = await writeDeadLetterTable(
      deadLetterPages(redis, "pix_payments", { pageSize: 1000 }),
      (text) => {
        const rows = text.split("\n").filter((l) => /^│ \d+-\d+ /.test(l));
        writes.push({ xranges, rows: rows.map((l) => l.split(" ")[1]) });
      },
    );
    assert.equal(shown, 2500);
    assert.deepEqual(writes.map((w) => [w.xranges, w.rows.length]), [
      [1, 1000],
      [2, 1000],
      [3, 500],
      [3, 0], // the closing rule
    ]);
    assert.deepEqual(writes.flatMap((w) => w.rows), letters);

    // The command over 20,000 letters: every row once, in order (cli-table3 took minutes here).
    await plantLetters(redis, 17_500);
    const list = await dlq(server.url, "list", "--count", "1000000").finished();
    assert.equal(list.code, 0, list.output.slice(-500));
    const rows = list.output.split("\n").filter((l) => /^│ \d+-\d+ /.test(l));
    assert.equal(rows.length, 20_000);
    assert.deepEqual(rows.slice(0, 2500).map((l) => l.split(" ")[1]), letters);
    assert.match(list.output, /\n20,000 dead letters in pix_payments:dlq; showing 20,000\n$/);
    redis.disconnect();
  },
);
