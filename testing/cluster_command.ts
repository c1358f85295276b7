/**
 * `deno task cluster up|down|status`: a local Redis Cluster for demos and manual runs — 3 masters
 * (optionally with replicas) on loopback ports, daemonized, data in `.fastpix/cluster/`
 * (git-ignored). Tests do not use this: they start their own cluster on free ports.
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import Table from "cli-table3";
import { formatCount, UserError } from "@fastpix/pix";
import { intIn } from "@fastpix/cli";
import { runCommand } from "@fastpix/cli";
import {
  clusterNodes,
  nodeCommand,
  readClusterState,
  startClusterDaemons,
  stopClusterDaemons,
} from "./redis_cluster.ts";

const DIR = new URL("../.fastpix/cluster", import.meta.url).pathname;

const seeds = (ports: number[]) => ports.map((p) => `127.0.0.1:${p}`).join(",");

const program = new Command("cluster")
  .description("Start, stop or show a local Redis Cluster (data in .fastpix/cluster/).");

program.command("up")
  .description("start the nodes and create the cluster")
  .addOption(new Option("--masters <n>", "masters").default(3).argParser(intIn(3, 16)))
  .addOption(new Option("--replicas <n>", "replicas per master").default(0).argParser(intIn(0, 2)))
  .addOption(
    new Option("--base-port <port>", "first port (the others follow)").default(7100)
      .argParser(intIn(1024, 65000)),
  )
  .addOption(
    new Option("--node-timeout-ms <ms>", "cluster-node-timeout (failover after this)")
      .default(5000).argParser(intIn(100, 600_000)),
  )
  .action(async (opts) => {
    const state = await startClusterDaemons(DIR, {
      masters: opts.masters,
      replicas: opts.replicas,
      basePort: opts.basePort,
      nodeTimeoutMs: opts.nodeTimeoutMs,
    });
    console.log(
      `Redis Cluster up: ${state.masters} masters, ${state.replicas} replica(s) each, ports ` +
        `${state.ports[0]}-${state.ports[state.ports.length - 1]}, data in ${DIR}`,
    );
    console.log(`export REDIS_CLUSTER=${seeds(state.ports)}`);
  });

program.command("down")
  .description("stop the nodes and delete their data")
  .action(async () => {
    const ports = await stopClusterDaemons(DIR);
    console.log(ports.length === 0 ? "no cluster was up" : `stopped ports ${ports.join(", ")}`);
  });

program.command("status")
  .description("show every node: role, slots, keys, memory")
  .action(async () => {
    const state = await readClusterState(DIR);
    if (!state) throw new UserError('No cluster is up: start one with "deno task cluster up"');
    const live: number[] = [];
    for (const port of state.ports) {
      if (await nodeCommand(port, "PING").then(() => true, () => false)) live.push(port);
    }
    if (live.length === 0) throw new UserError(`No node answers on ports ${state.ports.join(",")}`);
    const info = String(await nodeCommand(live[0], "CLUSTER", "INFO"));
    console.log(
      `${/cluster_state:\w+/.exec(info)?.[0]}, ${live.length}/${state.ports.length} nodes answer`,
    );
    const table = new Table({
      head: ["port", "role", "slots", "keys", "memory", "state"],
      style: { head: [], border: [] },
    });
    for (const node of (await clusterNodes(live[0])).sort((a, b) => a.port - b.port)) {
      const up = live.includes(node.port);
      const keys = up ? formatCount(Number(await nodeCommand(node.port, "DBSIZE"))) : "-";
      const memory = up
        ? /used_memory_human:(\S+)/.exec(String(await nodeCommand(node.port, "INFO", "memory")))
          ?.[1]
        : "-";
      table.push([
        node.port,
        node.role,
        node.slots.join(" ") || "-",
        keys,
        memory ?? "?",
        node.failing ? "failing" : up ? "ok" : "down",
      ]);
    }
    console.log(table.toString());
    console.log(`export REDIS_CLUSTER=${seeds(state.ports)}`);
  });

if (import.meta.main) await runCommand(program);
