/**
 * `rediss://` with a private CA: a redis-server that serves TLS only and wants client
 * certificates, all made here with openssl. A consumer and the injector get through with
 * REDIS_CA_FILE (and the client certificate), one by env vars, one by flags; without the CA a tool
 * ends in one line that says what to give instead of retrying for ever.
 */
import assert from "node:assert/strict";
import { createRedis } from "@fastpix/infra";
import { ensureDebianBinary } from "@fastpix/testing";
import { ChildTool, INTEGRATION, spawnConsumer, startRedis, waitFor } from "./_helpers.ts";

/** Runs openssl in `dir`; throws with its output when it fails. */
async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, signed by that CA. */
async function makeCertificates(dir: string): Promise<void> {
  await ensureDebianBinary("openssl", { debianPackage: "openssl", advice: "install openssl" });
  const days = ["-days", "2"];
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    ...days,
    "-subj",
    "/CN=fastpix test CA",
  );
  await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (
    const [name, subject, ext] of [
      ["server", "/CN=localhost", ["-extfile", "san.ext"]],
      ["client", "/CN=fastpix client", []],
    ] as const
  ) {
    await openssl(
      dir,
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    );
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      ...days,
      ...ext,
    );
  }
} // deno-fmt-ignore

Deno.test(
  "rediss:// with a private CA and client certificates: consumer and injector process payments; without the CA, one line",
  INTEGRATION,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "fastpix-tls-" });
    await makeCertificates(dir);
    await using server = await startRedis({
      tls: {
        certFile: `${dir}/server.crt`,
        keyFile: `${dir}/server.key`,
        caFile: `${dir}/ca.crt`,
        authClients: true,
      },
    });
    assert.match(server.url, /^rediss:\/\//);
    const redis = createRedis(server.url, {
      name: "test",
      tls: server.clientTls(`${dir}/client.crt`, `${dir}/client.key`),
    });
    const files = {
      REDIS_CA_FILE: `${dir}/ca.crt`,
      REDIS_CERT_FILE: `${dir}/client.crt`,
      REDIS_KEY_FILE: `${dir}/client.key`,
    };
    const consumer = spawnConsumer(server.url, { name: "tls_consumer", env: files });
    try {
      await waitFor("the consumer group", async () => {
        try {
          return (await redis.xinfo("GROUPS", "pix_payments") as unknown[]).length === 1;
        } catch {
          return false;
        }
      });
      // The injector by flags, and waiting for every confirmation over TLS as well.
      const inject = await new ChildTool("simulators/inject_command.ts", {
        args: [
          ...["--num-requests", "300", "--await", "--redis-ca-file", files.REDIS_CA_FILE],
          ...["--redis-cert-file", files.REDIS_CERT_FILE, "--redis-key-file", files.REDIS_KEY_FILE],
        ],
        env: { REDIS_URL: server.url, LOG_LEVEL: "warn" },
      }).finished();
      assert.equal(inject.code, 0, inject.output);
      await waitFor("300 processed", async () => await redis.get("processed_count") === "300");

      // No CA: the server's certificate does not verify. One line, exit 2, for each tool.
      for (const [script, args] of [
        ["simulators/inject_command.ts", ["--num-requests", "1"]],
        ["consumer/consume_command.ts", []],
        ["gateway/gateway_command.ts", ["--port", "0"]],
      ] as const) {
        const refused = await new ChildTool(script, {
          args: [...args],
          env: { REDIS_URL: server.url, LOG_LEVEL: "warn" },
        }).finished();
        assert.equal(refused.code, 2, `${script}: ${refused.output}`);
        assert.match(
          refused.output,
          /^\w+: Cannot use Redis at rediss:\/\/127\.0\.0\.1:\d+: the server's TLS certificate was rejected \(.*certificate.*\): give the CA that signed it with --redis-ca-file \(REDIS_CA_FILE\)\n$/,
        );
      }
      // The CA but no client certificate: the server refuses, and says so.
      const noCert = await new ChildTool("simulators/inject_command.ts", {
        args: ["--num-requests", "1"],
        env: { REDIS_URL: server.url, REDIS_CA_FILE: files.REDIS_CA_FILE, LOG_LEVEL: "warn" },
      }).finished();
      assert.equal(noCert.code, 2, noCert.output);
      assert.match(noCert.output, /the server wants a client certificate .*--redis-cert-file/);
      assert.equal(noCert.output.trim().split("\n").length, 1, noCert.output);
    } finally {
      consumer.kill("SIGTERM");
      await consumer.finished();
      redis.disconnect();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
