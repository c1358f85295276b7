/**
 * `deno task consume:list`: the plain list FIFO consumer (BRPOP, no acknowledgement: a consumer
 * killed while holding popped payloads loses them).
 * @module
 */
import { runCommand } from "@fastpix/cli";
import { listConsumerCommand, listConsumerOptions, runListConsumer } from "./list_command.ts";
import { ListConsumer } from "./list_consumer.ts";

const program = listConsumerCommand(
  "consume:list",
  "Consume PIX payments from <base>_<i> (default source_list_0) with BRPOP: validate, confirm, count (no ack).",
).action(async (flags) => {
  await runListConsumer(new ListConsumer(listConsumerOptions(flags)), flags, "list");
});

if (import.meta.main) await runCommand(program);
