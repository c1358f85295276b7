/**
 * A stand-in for the k6 binary in tests of `deno task k6` (they must run without k6): reads
 * `run -e NAME=value ... <script>`, sends one payment through BASE_URL (with wait=true for the
 * designs that confirm), and writes what it saw to SUMMARY_JSON the way the real scenarios do
 * (with `problems`: FAKE_K6_PROBLEM from its environment, when set). FAKE_K6_NO_SUMMARY=1
 * writes none; FAKE_K6_EXIT is its exit code.
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
if (script.endsWith("/rinha.ts")) {
  // The Rinha backend's contract (a payment in, the summary out) and both processors' admin.
  const payment = await fetch(`${env.BASE_URL}/payments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ correlationId: crypto.randomUUID(), amount: 19.9 }),
  });
  await payment.body?.cancel();
  const summary = await fetch(`${env.BASE_URL}/payments-summary`);
  const processors: Record<string, number> = {};
  for (const name of ["DEFAULT", "FALLBACK"]) {
    const admin = await fetch(`${env[`PROCESSOR_${name}_URL`]}/admin/payments-summary`, {
      headers: { "X-Rinha-Token": "123" },
    });
    await admin.body?.cancel();
    processors[name] = admin.status;
  }
  answer = { payment: payment.status, summary: await summary.json(), processors };
} else if (env.BASE_URL) {
  const wait = env.DESIGN === "basic" ? "" : "&wait=true"; // basic sends no confirmations
  const response = await fetch(`${env.BASE_URL}/pix/payments?design=${env.DESIGN}${wait}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ backend_id: "1", amount: 19.9 }),
  });
  answer = { status: response.status, body: await response.json() };
}
const problem = Deno.env.get("FAKE_K6_PROBLEM");
const html = Deno.env.get("K6_WEB_DASHBOARD_EXPORT");
if (html) await Deno.writeTextFile(html, "<!DOCTYPE html><html>fake k6 report</html>\n");
if (Deno.env.get("FAKE_K6_NO_SUMMARY") !== "1") {
  await Deno.writeTextFile(
    env.SUMMARY_JSON,
    JSON.stringify({
      options: {},
      results: [{ design: env.DESIGN, script, env, answer, dashboard: dashboardEnv() }],
      problems: problem ? [`${env.DESIGN}: ${problem}`] : [],
    }),
  );
}
Deno.exit(Number(Deno.env.get("FAKE_K6_EXIT") ?? env.FAKE_K6_EXIT ?? 0));

/** The web dashboard settings k6 would see (`deno task k6 --report`). */
function dashboardEnv(): Record<string, string> {
  const names = Object.keys(Deno.env.toObject()).filter((n) => n.startsWith("K6_WEB_DASHBOARD"));
  return Object.fromEntries(names.map((n) => [n, Deno.env.get(n)!]));
}
