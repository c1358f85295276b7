/**
 * `deno task consume:list-reliable`: the reliable list consumer (BLMOVE into a processing list,
 * heartbeat, reaper of dead consumers' processing lists).
 * @module
 */
import { idleThresholdOption, runCommand } from "@fastpix/cli";
import { listConsumerCommand, listConsumerOptions, runListConsumer } from "./list_command.ts";
import { ReliableListConsumer } from "./reliable_list_consumer.ts";

const program = listConsumerCommand(
  "consume:list-reliable",
  "Consume PIX payments from <base>_<i> (default source_list_0) with BLMOVE into a processing list; reap dead consumers.",
)
  .addOption(
    Object.assign(idleThresholdOption(), {
      description: "a consumer silent this long is dead: the reaper returns its processing list",
    }),
  )
  .action(async (flags) => {
    const consumer = new ReliableListConsumer({
      ...listConsumerOptions(flags),
      heartbeatTtlMs: flags.idleThresholdMs,
    });
    await runListConsumer(consumer, flags, "list-reliable");
  });

if (import.meta.main) await runCommand(program);
