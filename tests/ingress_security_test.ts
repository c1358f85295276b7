/**
 * TLS and API keys at the gateway, through `deno task gateway` as a child process: an OpenSSL-made
 * self-signed certificate (`--cert`/`--key`) trusted by the client, keys from `GATEWAY_API_KEYS`
 * required on every route but `/health` (Bearer or X-API-Key, 401 with 3401 otherwise), and the
 * keys never printed, not even when one is refused.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "@fastpix/pix";
import { parsePrometheusText, sampleValue } from "@fastpix/gateway";
import { ApiKeys, parseApiKeys, presentedKey } from "@fastpix/http";
import { freePort } from "@fastpix/testing";
import { INTEGRATION, startRedis } from "./_helpers.ts";
import { ServerProcess } from "./_server_process.ts";

const KEYS = ["k-alpha-0123456789abcdef", "k-beta-fedcba9876543210"];

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl in a temp dir. */
async function selfSigned(): Promise<{ dir: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "fastpix-tls-" });
  const { code, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // Not a CA: rustls refuses a CA certificate as the server's own (CaUsedAsEndEntity).
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return { dir, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
} // deno-fmt-ignore

Deno.test("API keys: parsed without quoting them, read from either header, compared whole", async () => {
  assert.deepEqual(parseApiKeys(` ${KEYS[0]} ,${KEYS[1]},`), { keys: KEYS });
  for (const bad of ["", " , ", "tiny", `${KEYS[0]},with blank-0123456789abc`]) {
    const parsed = parseApiKeys(bad);
    assert.ok("problem" in parsed, bad);
    assert.ok(!/tiny|with blank|k-alpha/.test(parsed.problem), parsed.problem);
  }
  assert.equal(presentedKey(new Headers({ authorization: `Bearer ${KEYS[0]}` })), KEYS[0]);
  assert.equal(presentedKey(new Headers({ authorization: `bearer  ${KEYS[0]} ` })), KEYS[0]);
  assert.equal(presentedKey(new Headers({ "x-api-key": KEYS[1] })), KEYS[1]);
  assert.equal(presentedKey(new Headers({ authorization: `Basic ${KEYS[0]}` })), undefined);
  assert.equal(presentedKey(new Headers()), undefined);
  const keys = await ApiKeys.of(KEYS);
  assert.equal(await keys.accepts(KEYS[0]), true);
  assert.equal(await keys.accepts(KEYS[1]), true);
  for (const wrong of [undefined, "", KEYS[0].slice(0, -1), KEYS[0] + "x", KEYS[0].toUpperCase()]) {
    assert.equal(await keys.accepts(wrong), false, String(wrong));
  }
}); // deno-fmt-ignore

Deno.test(
  "gateway with --cert/--key and GATEWAY_API_KEYS: HTTPS only, 401 with 3401 without a valid key, keys never printed",
  INTEGRATION,
  async () => {
    await using redis = await startRedis();
    const tls = await selfSigned();
    const caCerts = [await Deno.readTextFile(tls.cert)];
    const httpsClient = Deno.createHttpClient({ caCerts, poolMaxIdlePerHost: 0 });
    const port = freePort();
    const gateway = new ServerProcess("gateway", port, redis.url, {
      args: ["--cert", tls.cert, "--key", tls.key],
      env: { GATEWAY_API_KEYS: KEYS.join(","), LOG_LEVEL: "info" },
      client: httpsClient,
    });
    let output = "";
    try {
      await gateway.ready();
      // /health is open (probes carry no key); everything else wants one.
      assert.ok([200, 503].includes(await gateway.probe()));
      const pay = (headers: Record<string, string>) =>
        gateway.get("/pix/payments", {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: '{"backend_id":"1","amount":"1.00"}',
        });
      const wrong: Record<string, string>[] = [{}, { authorization: "Bearer wrong-key-0123456789" }, { "x-api-key": KEYS[0] + "x" }];
      for (const headers of wrong) {
        const refused = await pay(headers);
        assert.equal(refused.status, 401, JSON.stringify(headers));
        assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
        const body = await refused.json();
        assert.equal(body.code, ErrorCode.UNAUTHORIZED);
        assert.equal(body.error, "unauthorized");
      }
      assert.equal((await pay({ authorization: `Bearer ${KEYS[0]}` })).status, 202);
      assert.equal((await pay({ "x-api-key": KEYS[1] })).status, 202);
      assert.equal((await gateway.get("/metrics")).status, 401);
      const metrics = await gateway.get("/metrics", { headers: { "x-api-key": KEYS[0] } });
      assert.equal(metrics.status, 200);
      const page = parsePrometheusText(await metrics.text());
      const requests = "fastpix_gateway_requests_total";
      assert.equal(sampleValue(page, requests, { route: "/pix/payments", status: "401" }), 3);
      assert.equal(sampleValue(page, requests, { route: "/pix/payments", status: "202" }), 2);
      // Plain HTTP to the TLS port gets no answer.
      const plain = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      await assert.rejects(() => fetch(`http://127.0.0.1:${port}/health`, { client: plain, signal: AbortSignal.timeout(3000) }));
      plain.close();
    } finally {
      output = await gateway.stop();
      httpsClient.close();
    }
    assert.match(output, /listening on https:\/\/127\.0\.0\.1:\d+ .*2 API key\(s\)/);
    for (const key of KEYS) assert.ok(!output.includes(key), "a key was printed");

    // A refused key value is named by position, never printed.
    const bad = new ServerProcess("gateway", freePort(), redis.url, {
      env: { GATEWAY_API_KEYS: `${KEYS[0]},tooshort` },
    });
    assert.equal(await bad.exit, 2);
    const line = (await bad.output()).trim();
    assert.match(line, /^gateway: --api-keys \(GATEWAY_API_KEYS\): Key 2 of 2 is not/);
    assert.ok(!line.includes("tooshort") && !line.includes(KEYS[0]), line);
    const half = new ServerProcess("gateway", freePort(), redis.url, { args: ["--cert", tls.cert] });
    assert.equal(await half.exit, 2);
    assert.match((await half.output()).trim(), /--cert \(TLS_CERT_FILE\) and --key \(TLS_KEY_FILE\) go together/);
    await Deno.remove(tls.dir, { recursive: true });
  },
);
