/**
 * `deno task dlq list|replay|purge`: inspect dead letters, put them back on the payment stream, or
 * delete them.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import Table from "cli-table3";
import { createRedis, type Redis, requireRedis } from "@fastpix/infra";
import { dlqKey, formatCount, UserError } from "@fastpix/pix";
import { intIn, redisUrlOption, runCommand, streamOption } from "@fastpix/cli";
import {
  type DeadLetterSelection,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
} from "./dlq.ts";

const codeOption = () =>
  new Option("--code <n>", "only dead letters with this error code").argParser(intIn(1, 99_999));

const clip = (text: string, max: number) => text.length > max ? text.slice(0, max - 1) + "…" : text;

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
      const letters = await listDeadLetters(redis, opts.stream, {
        count: opts.count,
        code: opts.code,
      });
      if (opts.json) {
        console.log(JSON.stringify({ total, deadLetters: letters }, null, 2));
        return;
      }
      console.log(
        `${formatCount(total)} dead letters in ${dlqKey(opts.stream)}; showing ${
          formatCount(letters.length)
        }`,
      );
      if (letters.length === 0) return;
      const table = new Table({
        head: [
          "id",
          "original id",
          "transaction_id",
          "backend",
          "amount",
          "code",
          "deliveries",
          "reason",
        ],
        style: { head: [], border: [] },
      });
      for (const d of letters) {
        table.push([
          d.id,
          d.originalId,
          clip(d.fields?.transaction_id ?? "", 38),
          clip(d.fields?.backend_id ?? "", 12),
          clip(d.fields?.amount ?? "", 16),
          String(d.errorCode),
          formatCount(d.deliveries),
          clip(d.reason, 70),
        ]);
      }
      console.log(table.toString());
    } finally {
      redis.disconnect();
    }
  });

/** `replay` and `purge`: ids, `--code` or `--all`, then `run` on a connection. */
function selectionCommand(
  name: string,
  description: string,
  run: (redis: Redis, stream: string, which: DeadLetterSelection) => Promise<void>,
) {
  program.command(name)
    .description(description)
    .argument("[ids...]", "dead-letter ids")
    .addOption(redisUrlOption())
    .addOption(streamOption())
    .addOption(codeOption())
    .option("--all", "every dead letter", false)
    .action(async (ids, opts) => {
      const which = selection(ids, opts);
      const redis = await connect(opts.redisUrl);
      try {
        await run(redis, opts.stream, which);
      } finally {
        redis.disconnect();
      }
    });
}

selectionCommand(
  "replay",
  "Put dead letters back on the payment stream as new entries and remove them.",
  async (redis, stream, which) => {
    const { replayed, skipped } = await replayDeadLetters(redis, stream, which);
    for (const [id, why] of skipped) console.error(`dlq: left ${id}: ${why}`);
    console.log(`replayed ${formatCount(replayed.size)} dead letters onto ${stream}`);
    if (skipped.size > 0) Deno.exitCode = 1;
  },
);

selectionCommand("purge", "Delete dead letters.", async (redis, stream, which) => {
  const deleted = await purgeDeadLetters(redis, stream, which);
  console.log(`purged ${formatCount(deleted)} dead letters from ${dlqKey(stream)}`);
});

if (import.meta.main) await runCommand(program);
