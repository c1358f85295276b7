/**
 * `deno task simulate`: one backend sends one payment and waits for its own confirmation.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import {
  backendIdOption,
  intIn,
  parseAmountOption,
  partitionsOption,
  redisClusterOption,
  redisUrlOption,
  responsePrefixOption,
  routeByOption,
  runCommand,
  streamOption,
} from "@fastpix/cli";
import {
  type Confirmation,
  formatMs,
  responseStreamKey,
  streamKeys,
  toStreamFields,
  UserError,
} from "@fastpix/pix";
import { createClient, partitionTagOf, requireRedis } from "@fastpix/infra";
import { ConfirmationWatcher } from "@fastpix/queue";
import { makePayment } from "./payments.ts";

const program = new Command("simulate")
  .description("Send one PIX payment from BACKEND_ID and wait for its confirmation.")
  .addOption(redisUrlOption())
  .addOption(redisClusterOption())
  .addOption(streamOption())
  .addOption(partitionsOption())
  .addOption(routeByOption())
  .addOption(responsePrefixOption())
  .addOption(backendIdOption())
  .addOption(new Option("--amount <brl>", "amount (default: random)").argParser(parseAmountOption))
  .addOption(
    new Option("--timeout-ms <ms>", "how long to wait for the confirmation").default(10_000)
      .argParser(intIn(1, 3_600_000)),
  )
  .action(async (opts) => {
    const target = { url: opts.redisUrl, cluster: opts.redisCluster };
    await requireRedis(target);
    const payment = makePayment({ backendId: opts.backendId, amountCents: opts.amount });
    // With partitions, the payment and its confirmation live in the partition it routes to.
    const layout = { stream: opts.stream, partitions: opts.partitions, routeBy: opts.routeBy };
    const tag = partitionTagOf(layout, payment);
    const stream = streamKeys(opts.stream, tag).stream;
    const responseKey = responseStreamKey(opts.responsePrefix, opts.backendId, tag);
    const watcher = new ConfirmationWatcher(target, [responseKey]);
    let resolve!: (c: Confirmation) => void;
    const answered = new Promise<Confirmation>((r) => resolve = r);
    await watcher.start((c) => {
      if (c.transaction_id === payment.transaction_id) resolve(c);
    });
    const redis = createClient(target, { name: "simulator" });
    const t0 = performance.now();
    try {
      const id = await redis.xadd(stream, "*", ...toStreamFields(payment));
      console.log(
        `sent ${payment.transaction_id} amount ${payment.amount} from backend ${payment.backend_id} as ${id}`,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((r) =>
        timer = setTimeout(() => r(undefined), opts.timeoutMs)
      );
      const confirmation = await Promise.race([answered, timeout]);
      clearTimeout(timer);
      if (confirmation === undefined) {
        throw new UserError(
          `No confirmation on ${responseKey} within ${opts.timeoutMs} ms: is a consumer running?`,
        );
      }
      const ms = formatMs(performance.now() - t0);
      console.log(`${confirmation.status} in ${ms} ms: ${JSON.stringify(confirmation)}`);
    } finally {
      redis.disconnect();
      await watcher.stop();
    }
  });

if (import.meta.main) await runCommand(program);
