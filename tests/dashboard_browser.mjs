/**
 * The dashboard in a real browser, driven by Playwright (playwright-core) under Node.js: Playwright
 * is known to hang under Deno, so dashboard_browser_test.ts prepares Redis, a consumer, live load
 * and the dashboard, then runs this script with `node` and reads its last line. Each step prints
 * one line (`step: ...`); the last line is `ok` or the failure.
 *
 * Input (env DASHBOARD_BROWSER_TEST, JSON): url, key, playwright (the package's folder), chromium,
 * userDataDir, screenshots (folder), stalledConsumer, replayLetterId, replayTx, invalidTx,
 * invalidPayerKey, confirmedTx.
 */
import process from "node:process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const input = JSON.parse(process.env.DASHBOARD_BROWSER_TEST ?? "{}");
const { chromium } = await import(pathToFileURL(join(input.playwright, "index.mjs")).href);

const step = (text) => console.log(`step: ${text}`);
const fail = (text) => {
  throw new Error(text);
};

const context = await chromium.launchPersistentContext(input.userDataDir, {
  executablePath: input.chromium,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
  viewport: { width: 1440, height: 900 },
  timeout: 60_000,
});
const problems = [];
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });

  // Log in through the form.
  await page.goto(input.url);
  if (!page.url().endsWith("/login")) fail(`expected the login form, got ${page.url()}`);
  await page.fill("#key", "not-the-right-key-at-all");
  await page.click("button[type=submit]");
  await page.waitForSelector("#login-failed:not([hidden])");
  await page.fill("#key", input.key);
  await page.click("button[type=submit]");
  await page.waitForSelector("#status[data-state=live]");
  step("logged in; the feed is live");

  // The charts move: each refresh adds a point.
  const points = () => page.$eval("#chart-throughput", (el) => Number(el.dataset.points));
  const before = await points();
  await page.waitForFunction(
    (n) => Number(document.querySelector("#chart-throughput").dataset.points) >= n + 3,
    before,
  );
  const throughput = await page.$$eval("#chart-throughput canvas", (c) => c.length);
  if (throughput < 1) fail("no chart drawn");
  step(`charts moved from ${before} to ${await points()} points`);
  await page.waitForFunction(() =>
    /\d/.test(document.querySelector('[data-kpi="throughput"] .value').textContent)
  );

  // The stalled consumer is STALLED, the live one is not.
  const stalled = `tr[data-consumer="${input.stalledConsumer}"]`;
  await page.waitForSelector(`${stalled}[data-state=stalled]`);
  const badge = await page.textContent(`${stalled} .badge`);
  if (badge !== "STALLED") fail(`stalled consumer's badge: ${badge}`);
  const live = await page.$$eval(
    "tr[data-consumer]",
    (rows) => rows.map((r) => `${r.dataset.consumer}=${r.dataset.state}`),
  );
  step(`consumers: ${live.join(", ")}`);
  await page.waitForFunction(() =>
    /STALLED/.test(document.querySelector('[data-kpi="consumers"]').textContent)
  );
  await page.screenshot({ path: join(input.screenshots, "dashboard-overview.png") });
  step("overview screenshot");

  // Dead letters: personal data masked; replay one after confirming.
  const letter = `tr[data-letter="${input.replayLetterId}"]`;
  await page.waitForSelector(letter);
  await page.waitForSelector(`#dlq-body tr[data-tx="${input.invalidTx}"]`);
  const panel = await page.textContent("#panel-dlq");
  if (panel.includes(input.invalidPayerKey)) fail("the payer key shows unmasked");
  await page.click(`#dlq-body tr[data-tx="${input.invalidTx}"] summary`);
  await page.check(`${letter} input[type=checkbox]`);
  await page.click("#dlq-replay");
  await page.waitForSelector("#confirm-dialog[open]");
  const question = await page.textContent("#confirm-title");
  if (question !== "Replay 1 dead letter?") fail(`dialog: ${question}`);
  await page.locator("#panel-dlq").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(input.screenshots, "dashboard-dead-letters.png") });
  step("dead letters screenshot, with the confirmation dialog");
  await page.click("#confirm-ok");
  await page.waitForFunction(() =>
    document.querySelector("#dlq-result").textContent === "1 replayed"
  );
  await page.waitForSelector(letter, { state: "detached" });
  step("replayed from the page");

  // Lookup: the replayed payment ends up confirmed (counted); a confirmed and a dead-lettered one.
  const lookup = async (tx, state) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.$eval("#lookup-result", (el) => el.replaceChildren());
      await page.fill("#lookup-tx", tx);
      await page.click("#lookup-form button[type=submit]");
      await page.waitForSelector("#lookup-result .lookup-head, #lookup-result .error");
      const found = await page.$eval(
        "#lookup-result",
        (el) => el.querySelector(".lookup-head")?.dataset.state ?? el.textContent,
      );
      if (found === state) return;
      if (Date.now() > deadline) fail(`lookup ${tx}: ${found}, not ${state}`);
      await page.waitForTimeout(500);
    }
  };
  await lookup(input.replayTx, "confirmed");
  step("the replayed payment is confirmed");
  await lookup(input.confirmedTx, "confirmed");
  await page.waitForSelector("#lookup-result tr[data-confirmation] .badge.confirmed");
  await page.locator("#panel-lookup").scrollIntoViewIfNeeded();
  await page.locator("#panel-lookup").screenshot({
    path: join(input.screenshots, "dashboard-lookup.png"),
  });
  step("a confirmed payment with its confirmation; lookup screenshot");
  await lookup(input.invalidTx, "dead_lettered");
  const masked = await page.textContent("#lookup-result");
  if (masked.includes(input.invalidPayerKey)) fail("lookup shows the payer key unmasked");
  if (!/1501/.test(masked)) fail("lookup does not show the error code");
  await page.locator("#panel-lookup").screenshot({
    path: join(input.screenshots, "dashboard-lookup-dead-letter.png"),
  });
  await page.check("#reveal");
  await page.waitForFunction(
    (key) => document.querySelector("#lookup-result").textContent.includes(key),
    input.invalidPayerKey,
  );
  step("a dead-lettered payment, masked, then revealed");
  if (problems.length > 0) fail(problems.join("; "));
  console.log("ok");
} catch (error) {
  console.log(`failed: ${error.message.split("\n")[0]}`);
  if (problems.length > 0) console.log(`browser: ${problems.join("; ")}`);
  process.exitCode = 1;
} finally {
  await context.close();
}
