/**
 * Private servers and child processes for tests, benchmarks and local runs: `redis-server`,
 * PostgreSQL, a Redis Cluster, and the repository's own commands as child processes. Production
 * code never imports this package.
 * @module
 */
export * from "./redis_server.ts";
export * from "./postgres_server.ts";
export * from "./redis_cluster.ts";
export * from "./child_tool.ts";
