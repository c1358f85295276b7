/**
 * `deno task demo`: the main job end to end. Uses REDIS_URL when it answers, else starts a private
 * redis-server (data under .fastpix/, git-ignored); runs a consumer, sends one payment from each of
 * four backends and waits for each confirmation, injects a batch with --await, prints a summary.
 * @module
 */
import Table from "cli-table3";
import { ChildTool, RedisServer, spawnConsumer } from "@fastpix/testing";
import { createLogger, createRedis, pingWithin, redactUrl } from "@fastpix/infra";
import { dlqKey, formatBrl, formatCount, UserError } from "@fastpix/pix";
import { runCommand } from "@fastpix/cli";
import { Command, Option } from "@commander-js/extra-typings";
import { intIn } from "@fastpix/cli";

const log = createLogger("demo");

async function openRedis(): Promise<{ url: string; server?: RedisServer }> {
  const wanted = Deno.env.get("REDIS_URL");
  if (wanted && await pingWithin(wanted, 1500)) {
    log.info(`using Redis at ${redactUrl(wanted)} (REDIS_URL)`);
    return { url: wanted };
  }
  if (wanted) log.warn(`REDIS_URL ${redactUrl(wanted)} does not answer: starting a private Redis`);
  const dir = new URL("../.fastpix/redis-demo/", import.meta.url).pathname;
  const server = await RedisServer.start({ dir });
  log.info(`started a private redis-server at ${server.url} (data in .fastpix/redis-demo)`);
  return { url: server.url, server };
}

async function run(tool: ChildTool, what: string): Promise<void> {
  const { code } = await tool.finished();
  if (code !== 0) throw new UserError(`${what} failed with exit code ${code}`);
}

const program = new Command("demo")
  .description("Run the whole flow: Redis, a consumer, single and batch payments, then a summary.")
  .addOption(
    new Option("--payments <n>", "payments in the batch run").default(20_000).argParser(
      intIn(1, 10_000_000),
    ),
  )
  .action(async (opts) => {
    const { url, server } = await openRedis();
    const redis = createRedis(url, { name: "demo" });
    const before = Number(await redis.get("processed_count") ?? 0);
    const consumer = spawnConsumer(url, {
      name: `demo_consumer_${Deno.pid}`,
      env: { LOG_LEVEL: "warn" },
      echo: true,
    });
    try {
      console.log(
        "\n== one payment from each of backends 1-4, each waiting for its confirmation ==",
      );
      for (const backend of ["1", "2", "3", "4"]) {
        await run(
          new ChildTool("simulators/simulate_command.ts", {
            env: { REDIS_URL: url, BACKEND_ID: backend },
            echo: true,
          }),
          `simulate (backend ${backend})`,
        );
      }
      console.log(
        `\n== ${
          formatCount(opts.payments)
        } payments over backends 1-4, waiting for every confirmation ==`,
      );
      const inject = new ChildTool("simulators/inject_command.ts", {
        args: ["--num-requests", String(opts.payments), "--randomize-backend-id", "--await"],
        env: { REDIS_URL: url, NUM_THREADS: "4", BATCH_SIZE: "500" },
      });
      const injected = await inject.finished();
      console.log(injected.output.trimEnd());
      if (injected.code !== 0) throw new UserError("the batch injection did not complete");

      const [count, total, dlq, pending] = await Promise.all([
        redis.get("processed_count"),
        redis.get("total_amount_cents"),
        redis.xlen(dlqKey("pix_payments")),
        redis.xpending("pix_payments", "pix_consumers") as Promise<[number]>,
      ]);
      const table = new Table({ head: ["summary", ""], style: { head: [], border: [] } });
      table.push(
        ["Redis", redactUrl(url)],
        ["payments confirmed in this demo", formatCount(Number(count) - before)],
        ["processed_count", formatCount(count ?? "0")],
        ["total_amount (BRL, exact)", formatBrl(total ?? "0")],
        ["dead letters", formatCount(dlq)],
        ["pending in the group", formatCount(pending[0])],
      );
      console.log(`\n${table.toString()}`);
      if (Number(count) - before !== opts.payments + 4) {
        throw new UserError(
          `expected ${formatCount(opts.payments + 4)} confirmations, got ${
            formatCount(Number(count) - before)
          }`,
        );
      }
    } finally {
      consumer.kill("SIGTERM");
      await consumer.finished();
      redis.disconnect();
      await server?.stop();
    }
  });

if (import.meta.main) await runCommand(program);
