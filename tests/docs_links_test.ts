/**
 * The README and the pages under docs/: every relative link points at a file that exists (and, with
 * `#anchor`, at a heading of that file), the README stays a short front door with the pinned test
 * command CI reads, and no page speaks of the team instead of to users. No network, no servers.
 * @module
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

interface Page {
  /** Path from the repository root, for messages. */
  name: string;
  url: URL;
  text: string;
}

async function readPage(name: string): Promise<Page> {
  const url = new URL(name, root);
  return { name, url, text: await Deno.readTextFile(url) };
}

/** README.md and every docs/*.md, sorted by name. */
async function pages(): Promise<Page[]> {
  const names = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.isFile && entry.name.endsWith(".md")) names.push(`docs/${entry.name}`);
  }
  names.sort();
  return await Promise.all(names.map(readPage));
}

/** The lines of `text` outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): { line: string; number: number }[] {
  const out: { line: string; number: number }[] = [];
  let fence: string | undefined;
  text.split("\n").forEach((line, i) => {
    const opening = /^\s*(`{3,}|~{3,})/.exec(line);
    if (opening) {
      if (fence === undefined) fence = opening[1][0];
      else if (opening[1][0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line, number: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: lowercase, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text only
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Every anchor the headings of `text` define (a repeated heading gets `-1`, `-2`, ... as on GitHub). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)(\s+#+)?\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

interface Link {
  target: string;
  line: number;
}

/** Every `[text](target)` (and image) link of the prose of `text`, code spans left out. */
function links(text: string): Link[] {
  const out: Link[] = [];
  for (const { line, number } of proseLines(text)) {
    const prose = line.replace(/`+[^`]*`+/g, "");
    for (const match of prose.matchAll(/\[[^\]]*\]\(\s*(<[^>]*>|[^\s)]+)(\s+"[^"]*")?\s*\)/g)) {
      out.push({ target: match[1].replace(/^<|>$/g, ""), line: number });
    }
  }
  return out;
}

function isExternal(target: string): boolean {
  return /^(https?:|mailto:)/i.test(target);
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** What is wrong with the relative links of `page` (empty: nothing). */
async function brokenLinks(page: Page): Promise<string[]> {
  const problems: string[] = [];
  for (const { target, line } of links(page.text)) {
    if (isExternal(target)) continue;
    const where = `${page.name}:${line}: (${target})`;
    const hash = target.indexOf("#");
    const path = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const url = path === "" ? page.url : new URL(path, page.url);
    if (!url.href.startsWith(root.href)) {
      problems.push(`${where} points outside the repository`);
      continue;
    }
    if (!await exists(url)) {
      problems.push(`${where} no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!url.pathname.endsWith(".md")) {
      problems.push(`${where} an anchor into a file that is not markdown`);
      continue;
    }
    const text = url.href === page.url.href ? page.text : await Deno.readTextFile(url);
    if (!anchors(text).has(anchor)) problems.push(`${where} no heading with the anchor #${anchor}`);
  }
  return problems;
}

Deno.test("slug follows GitHub's anchors", () => {
  assert.equal(slug("Which design?"), "which-design");
  assert.equal(
    slug("Consistency: why the summary equals the processors'"),
    "consistency-why-the-summary-equals-the-processors",
  );
  assert.equal(slug("`list-reliable`"), "list-reliable");
  assert.equal(
    slug("Performance (`deno task bench --ledger`)"),
    "performance-deno-task-bench---ledger",
  );
  assert.equal(slug("See [the gateway](gateway.md) now"), "see-the-gateway-now");
});

Deno.test("links are found in prose only, not in code", () => {
  const text = [
    'See [a](a.md) and [b](docs/b.md#part "title") and ![img](<c d.png>).',
    "`[not](a-link.md)` and [web](https://example.com).",
    "```",
    "[also not](in-a-fence.md)",
    "```",
  ].join("\n");
  assert.deepEqual(links(text).map((l) => l.target), [
    "a.md",
    "docs/b.md#part",
    "c d.png",
    "https://example.com",
  ]);
});

Deno.test("a broken link or anchor is reported", async () => {
  const page: Page = {
    name: "README.md",
    url: new URL("README.md", root),
    text: [
      "# Top",
      "[ok](docs/testing.md) [ok too](#top)",
      "[gone](docs/no-such-page.md) [bad anchor](docs/testing.md#no-such-heading) [bad](#nowhere)",
    ].join("\n"),
  };
  const problems = await brokenLinks(page);
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.match(problems[0], /no-such-page\.md\) no such file/);
  assert.match(problems[1], /no heading with the anchor #no-such-heading/);
  assert.match(problems[2], /no heading with the anchor #nowhere/);
});

Deno.test("every relative link of the README and docs/ points at an existing file and heading", async () => {
  const all = await pages();
  assert.ok(all.length > 1, "no docs/*.md found");
  const problems = (await Promise.all(all.map(brokenLinks))).flat();
  assert.deepEqual(problems, [], `broken links:\n${problems.join("\n")}`);
});

Deno.test("every page under docs/ is linked from the README or another page", async () => {
  const all = await pages();
  const linked = new Set<string>();
  for (const page of all) {
    for (const { target } of links(page.text)) {
      if (isExternal(target)) continue;
      const path = target.split("#")[0];
      if (path !== "") linked.add(new URL(path, page.url).href);
    }
  }
  const orphans = all.filter((p) => p.name !== "README.md" && !linked.has(p.url.href));
  assert.deepEqual(orphans.map((p) => p.name), []);
});

Deno.test("the README is a short front door with the pinned test command", async () => {
  const readme = await readPage("README.md");
  const lines = readme.text.replace(/\n$/, "").split("\n");
  assert.ok(lines.length <= 250, `README.md has ${lines.length} lines (at most 250)`);
  const testLine = lines.find((line) => /^npx -y deno@[0-9.]+ task test$/.test(line));
  assert.ok(testLine, "README.md has no line `npx -y deno@<version> task test` (CI reads it)");
  const version = /^npx -y deno@([0-9.]+) /.exec(testLine)![1];
  assert.ok(lines.includes(`npx -y deno@${version} task test`));
  assert.ok(
    lines.includes(`npx -y deno@${version} task demo`),
    `README.md has no line \`npx -y deno@${version} task demo\` with the same Deno version`,
  );
});

Deno.test("the README and docs/ speak to users, not about the team", async () => {
  const forbidden: [string, RegExp][] = [
    ["the seed", /\bthe seed\b/i],
    ["the lead", /\bthe lead\b/i],
    ["an issue number", /\bissue \d+\b/i],
    ["DESIGN.md (not in the repository)", /DESIGN\.md/],
  ];
  const problems: string[] = [];
  for (const page of await pages()) {
    page.text.split("\n").forEach((line, i) => {
      for (const [what, pattern] of forbidden) {
        if (pattern.test(line)) problems.push(`${page.name}:${i + 1}: ${what}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});
