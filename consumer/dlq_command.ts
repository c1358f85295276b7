/**
 * `deno task dlq list|replay|purge`: inspect dead letters, put them back on the payment stream, or
 * delete them.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { createRedis, type Redis, requireRedis } from "@fastpix/infra";
import { dlqKey, formatCount, UserError } from "@fastpix/pix";
import { intIn, redisUrlOption, runCommand, streamOption } from "@fastpix/cli";
import {
  deadLetterPages,
  type DeadLetterSelection,
  type LetterOutcome,
  listDeadLetters,
  moveDeadLetters,
} from "./dlq.ts";
import { writeDeadLetterTable } from "./dlq_table.ts";

const codeOption = () =>
  new Option("--code <n>", "only dead letters with this error code").argParser(intIn(1, 99_999));

/** Ids listed per kind in a replay or purge report. */
const SHOWN_IDS = 10;

/** Connects after checking Redis answers. */
async function connect(url: string) {
  await requireRedis(url);
  return createRedis(url, { name: "dlq" });
}

function selection(ids: string[], opts: { code?: number; all?: boolean }): DeadLetterSelection {
  if (ids.length === 0 && opts.code === undefined && !opts.all) {
    throw new UserError("Say which dead letters: give their ids, --code <n> or --all");
  }
  for (const id of ids) {
    if (!/^\d+-\d+$/.test(id)) {
      throw new UserError(`"${id}" is not a stream id such as 1718000000000-0`);
    }
  }
  return { ids, code: opts.code, all: opts.all };
}

const encoder = new TextEncoder();
async function writeStdout(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += await Deno.stdout.write(bytes.subarray(done));
}

const program = new Command("dlq")
  .description("Inspect, replay or purge dead letters (<stream>:dlq).");

program.command("list")
  .description("List dead letters, oldest first.")
  .addOption(redisUrlOption())
  .addOption(streamOption())
  .addOption(codeOption())
  .addOption(
    new Option("--count <n>", "show at most this many").default(50).argParser(intIn(1, 1_000_000)),
  )
  .option("--json", "print them as JSON", false)
  .action(async (opts) => {
    const redis = await connect(opts.redisUrl);
    try {
      const total = await redis.xlen(dlqKey(opts.stream));
      const filter = { count: opts.count, code: opts.code };
      if (opts.json) {
        const letters = await listDeadLetters(redis, opts.stream, filter);
        console.log(JSON.stringify({ total, deadLetters: letters }, null, 2));
        return;
      }
      const shown = await writeDeadLetterTable(
        deadLetterPages(redis, opts.stream, filter),
        writeStdout,
      );
      console.log(
        `${formatCount(total)} dead letters in ${dlqKey(opts.stream)}; showing ${
          formatCount(shown)
        }`,
      );
    } finally {
      redis.disconnect();
    }
  });

/** Counts of a replay or purge by kind, with the first ids of each. */
class Tally {
  counts = { replayed: 0, purged: 0, processed: 0, gone: 0, unknown: 0, skipped: 0 };
  shown = new Map<LetterOutcome["kind"], string[]>();

  add(outcomes: LetterOutcome[]): void {
    for (const o of outcomes) {
      this.counts[o.kind]++;
      const ids = this.shown.get(o.kind) ?? [];
      if (ids.length < SHOWN_IDS) {
        ids.push(o.kind === "processed" ? `${o.id} (transaction ${o.detail})` : o.id);
        if (o.kind === "skipped") ids[ids.length - 1] += `: ${o.detail}`;
      }
      this.shown.set(o.kind, ids);
    }
  }

  /** `  <what>: id, id, … and N more` for `kind`, or nothing when there are none. */
  detail(kind: LetterOutcome["kind"], what: string, separator = ", "): string[] {
    const ids = this.shown.get(kind) ?? [];
    if (ids.length === 0) return [];
    const more = this.counts[kind] - ids.length;
    return [`  ${what}: ${ids.join(separator)}${more > 0 ? ` … and ${more} more` : ""}`];
  }
}

/** `replay` and `purge`: ids, `--code` or `--all`; prints the tally `report` makes. */
function selectionCommand(
  action: "replay" | "purge",
  description: string,
  semantics: string,
  report: (tally: Tally, stream: string) => string[],
) {
  program.command(action)
    .description(description)
    .argument("[ids...]", "dead-letter ids")
    .addOption(redisUrlOption())
    .addOption(streamOption())
    .addOption(codeOption())
    .option("--all", "every dead letter", false)
    .addHelpText("after", semantics)
    .action(async (ids, opts) => {
      const which = selection(ids, opts);
      const redis: Redis = await connect(opts.redisUrl);
      try {
        const tally = new Tally();
        const moves = moveDeadLetters(redis, opts.stream, which, action, { refuseUnknown: true });
        for await (const outcomes of moves) tally.add(outcomes);
        console.log(report(tally, opts.stream).join("\n"));
        if (tally.counts.skipped > 0) Deno.exitCode = 1;
      } finally {
        redis.disconnect();
      }
    });
}

const COMMON_SEMANTICS = `
Each dead letter is replayed or purged by exactly one run: one that another replay or purge
(running at the same time) deleted first is reported "already gone" and left alone. --all and
--code take the dead letters present when the run starts. An id that is not a dead letter stops
the run before anything is done (exit code 2). Exit code 1: some dead letters were skipped.`;

selectionCommand(
  "replay",
  "Put dead letters back on the payment stream as new entries and remove them.",
  `${COMMON_SEMANTICS}

A dead letter whose payment is already processed (its idempotency mark pix:done:<transaction_id>
exists) is not re-enqueued: it is deleted and reported "already processed", so no later replay can
pay it again once the mark has expired (for a partition's stream, --stream 'pix_payments:{<tag>}',
the mark is pix:done:{<tag>}:<transaction_id>). Dead letters whose original fields cannot be read
back are skipped and left in place.`,
  (tally, stream) => [
    `replayed ${formatCount(tally.counts.replayed)} dead letters onto ${stream}; ` +
    `${formatCount(tally.counts.processed)} already processed (deleted, not re-enqueued), ` +
    `${formatCount(tally.counts.gone)} already gone, ${formatCount(tally.counts.skipped)} skipped`,
    ...tally.detail("processed", "already processed"),
    ...tally.detail("gone", "already gone (replayed or purged by another run)"),
    ...tally.detail("skipped", `skipped (left in ${dlqKey(stream)})`, "; "),
  ],
);

selectionCommand(
  "purge",
  "Delete dead letters.",
  COMMON_SEMANTICS,
  (tally, stream) => [
    `purged ${formatCount(tally.counts.purged)} dead letters from ${dlqKey(stream)}; ` +
    `${formatCount(tally.counts.gone)} already gone, ${formatCount(tally.counts.skipped)} skipped`,
    ...tally.detail("gone", "already gone (replayed or purged by another run)"),
    ...tally.detail("skipped", `skipped (left in ${dlqKey(stream)})`, "; "),
  ],
);

if (import.meta.main) await runCommand(program);
