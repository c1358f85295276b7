/**
 * A stand-in for the k6 binary in tests of `deno task k6` (k6 cannot be installed here): reads
 * `run -e NAME=value ... <script>`, sends one payment through BASE_URL (with wait=true for the
 * designs that confirm), and writes
 * what it saw to SUMMARY_JSON the way the real scenarios do.
 */
const env: Record<string, string> = {};
const args = Deno.args;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "-e") {
    const [name, ...rest] = args[++i].split("=");
    env[name] = rest.join("=");
  }
}
const script = args[args.length - 1];
let answer: unknown = null;
if (env.BASE_URL) {
  const wait = env.DESIGN === "basic" ? "" : "&wait=true"; // basic sends no confirmations
  const response = await fetch(`${env.BASE_URL}/pix/payments?design=${env.DESIGN}${wait}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ backend_id: "1", amount: 19.9 }),
  });
  answer = { status: response.status, body: await response.json() };
}
await Deno.writeTextFile(
  env.SUMMARY_JSON,
  JSON.stringify({ options: {}, results: [{ design: env.DESIGN, script, env, answer }] }),
);
Deno.exit(Number(env.FAKE_K6_EXIT ?? 0));
