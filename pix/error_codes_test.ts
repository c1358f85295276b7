/**
 * Every error code is checked by a real assertion somewhere in the repo's tests: a mention in a
 * comment or a string does not count, nor does a use that no assertion looks at.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "./validation.ts";

/** `source` with comments removed and the text of strings, templates and regexes blanked. */
function codeOnly(source: string): string {
  const out = source.split("");
  const n = source.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  /** Open braces in each template `${…}` expression we are in, innermost last. */
  const braces: number[] = [];
  let i = 0;
  /** The last code character, to tell a regex from a division. */
  let prev = "";
  /** Blanks template text from `i` up to its end or its next `${` (kept, as code). */
  const template = () => {
    const start = i;
    while (i < n && source[i] !== "`" && !(source[i] === "$" && source[i + 1] === "{")) {
      i += source[i] === "\\" ? 2 : 1;
    }
    blank(start, i);
    if (source[i] === "$") {
      braces.push(0);
      i += 2;
    } else i++;
    prev = "`";
  };
  /** The index of the closing `quote` of a string or regex body starting at `from`. */
  const endOf = (from: number, quote: string) => {
    let j = from;
    let inClass = false;
    while (j < n && source[j] !== "\n") {
      const c = source[j];
      if (c === "\\") j++;
      else if (quote === "/" && (c === "[" || c === "]")) inClass = c === "[";
      else if (c === quote && !inClass) break;
      j++;
    }
    return j;
  };
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && (next === "/" || next === "*")) {
      const end = next === "/" ? source.indexOf("\n", i) : source.indexOf("*/", i + 2);
      const stop = end < 0 ? n : next === "/" ? end : end + 2;
      blank(i, stop);
      i = stop;
    } else if (
      c === '"' || c === "'" ||
      (c === "/" && (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev)))
    ) {
      const end = endOf(i + 1, c);
      blank(i + 1, end);
      i = end + 1;
      prev = c;
    } else if (c === "`") {
      i++;
      template();
    } else if (c === "}" && braces.length > 0 && braces[braces.length - 1] === 0) {
      braces.pop();
      i++;
      template();
    } else {
      if (braces.length > 0 && (c === "{" || c === "}")) {
        braces[braces.length - 1] += c === "{" ? 1 : -1;
      }
      if (!/\s/.test(c)) prev = c;
      i++;
    }
  }
  return out.join("");
}

/** `assert(`, `assert.equal(`, `assertEquals(`, `expect(`: the callee, then the call. */
const CALLEE = String.raw`\b(?:assert\w*(?:\.\w+)?|expect)\s*`;
const ASSERTION_CALLEE = new RegExp(`${CALLEE}$`);
const ASSERTION_CALL = new RegExp(`${CALLEE}\\(`);

/** For each index where `pattern` matches in `code`: the brackets open there, innermost last. */
function openBracketsAt(code: string, pattern: RegExp): { index: number; open: number[] }[] {
  const wanted = new Set([...code.matchAll(pattern)].map((m) => m.index));
  const found: { index: number; open: number[] }[] = [];
  const open: number[] = [];
  for (let i = 0; i < code.length; i++) {
    if (wanted.has(i)) found.push({ index: i, open: [...open] });
    const c = code[i];
    if (c === "(" || c === "[" || c === "{") open.push(i);
    else if (c === ")" || c === "]" || c === "}") open.pop();
  }
  return found;
}

/** Whether one of the brackets `open` is the argument list of an assertion call. */
const inAssertion = (code: string, open: number[]) =>
  open.some((at) =>
    code[at] === "(" && ASSERTION_CALLEE.test(code.slice(Math.max(0, at - 60), at))
  );

/** The index just past the bracket matching the one at `at`. */
function closing(code: string, at: number): number {
  let depth = 0;
  for (let i = at; i < code.length; i++) {
    if ("([{".includes(code[i])) depth++;
    else if (")]}".includes(code[i]) && --depth === 0) return i + 1;
  }
  return code.length;
}

/**
 * Whether the table `name` is asserted on: passed to an assertion (`assert.deepEqual(x,
 * name.map(…))`), or iterated by a `for (… of name)` whose body asserts.
 */
function tableAsserted(code: string, name: string): boolean {
  const uses = openBracketsAt(code, new RegExp(`(?<![\\w$.])${name}\\b`, "g"));
  if (uses.some((u) => inAssertion(code, u.open))) return true;
  for (
    const loop of code.matchAll(
      new RegExp(`\\bfor\\s*\\((?:const|let)\\s[^;]*?\\bof\\s+${name}\\s*\\)`, "g"),
    )
  ) {
    const start = loop.index + loop[0].length;
    const bodyAt = code.slice(start).search(/\S/) + start;
    const end = code[bodyAt] === "{" ? closing(code, bodyAt) : code.indexOf(";", bodyAt);
    if (ASSERTION_CALL.test(code.slice(bodyAt, end))) return true;
  }
  return false;
}

/**
 * The error code names `source` checks by a real assertion: `ErrorCode.X` inside the arguments of
 * an assertion call, or inside a table (`const cases = [...]`) that is itself asserted on.
 */
function assertedCodes(source: string): Set<string> {
  const code = codeOnly(source);
  const names = new Set<string>();
  for (const { index, open } of openBracketsAt(code, /(?<![\w$.])ErrorCode\.[A-Z][A-Z0-9_]*/g)) {
    const name = /^ErrorCode\.(\w+)/.exec(code.slice(index))![1];
    if (inAssertion(code, open)) names.add(name);
    else {
      const tables = open.filter((at) => code[at] === "[").map((at) =>
        /\b(?:const|let)\s+(\w+)\s*(?::[^=;]*)?=\s*$/.exec(code.slice(Math.max(0, at - 200), at))
          ?.[1]
      ).filter((t) => t !== undefined);
      if (tables.some((t) => tableAsserted(code, t))) names.add(name);
    }
  }
  return names;
}

Deno.test("a code counts only where an assertion checks it", () => {
  const counted = (source: string) => [...assertedCodes(source)].sort();
  assert.deepEqual(counted("assert.equal(codeOf(x), ErrorCode.AMOUNT_FORMAT);"), ["AMOUNT_FORMAT"]);
  assert.deepEqual(counted("assert.ok(list.every((d) => d.code === ErrorCode.NOT_FOUND));"), [
    "NOT_FOUND",
  ]);
  // Comments, strings, templates and regexes are not code.
  assert.deepEqual(counted("// assert.equal(c, ErrorCode.AMOUNT_FORMAT)\nassert.ok(true);"), []);
  assert.deepEqual(counted("/* ErrorCode.AMOUNT_FORMAT */ assert.equal(c, 1202);"), []);
  assert.deepEqual(counted('assert.equal(c, "ErrorCode.AMOUNT_FORMAT");'), []);
  assert.deepEqual(counted("assert.match(t, `ErrorCode.AMOUNT_FORMAT ${x}`);"), []);
  assert.deepEqual(counted("assert.match(t, /ErrorCode.AMOUNT_FORMAT/);"), []);
  assert.deepEqual(counted("assert.match(t, `${ErrorCode.NOT_FOUND}`);"), ["NOT_FOUND"]);
  // Used, but no assertion looks at it.
  assert.deepEqual(counted("const c = ErrorCode.AMOUNT_FORMAT;\nconsole.log(c);"), []);
  // Tables: asserted in a loop or as a whole, or never.
  const table = "const cases: [string, number][] = [\n  ['x', ErrorCode.NOT_FOUND],\n];\n";
  assert.deepEqual(counted(`${table}for (const [a, b] of cases) {\n  assert.equal(f(a), b);\n}`), [
    "NOT_FOUND",
  ]);
  assert.deepEqual(counted(`${table}for (const [a, b] of cases) assert.equal(f(a), b);`), [
    "NOT_FOUND",
  ]);
  assert.deepEqual(counted(`${table}assert.deepEqual(got, cases.map(([, c]) => c));`), [
    "NOT_FOUND",
  ]);
  assert.deepEqual(counted(`${table}for (const [a] of cases) await send(a);\nassert.ok(x);`), []);
  // Division is not a regex: what follows is still code.
  assert.deepEqual(counted("const r = a / b;\nassert.equal(r, ErrorCode.NOT_FOUND); // /"), [
    "NOT_FOUND",
  ]);
});

Deno.test("every error code is checked by an assertion in some test file of the repo", () => {
  const asserted = new Set<string>();
  const walk = (dir: URL) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory && !entry.name.startsWith(".") && entry.name !== "node_modules") {
        walk(new URL(`${entry.name}/`, dir));
      } else if (entry.isFile && entry.name.endsWith("_test.ts")) {
        for (const name of assertedCodes(Deno.readTextFileSync(new URL(entry.name, dir)))) {
          asserted.add(name);
        }
      }
    }
  };
  walk(new URL("../", import.meta.url));
  assert.deepEqual(Object.keys(ErrorCode).filter((name) => !asserted.has(name)), []);
});
