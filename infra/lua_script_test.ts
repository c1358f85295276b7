import assert from "node:assert/strict";
import { assembleLua, LuaScript } from "./lua_script.ts";

/** Writes `files` (path → text) under a new temporary directory, removed on dispose. */
function tree(
  files: Record<string, string>,
): { href: string; url(path: string): URL } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "lua_script_test_" });
  const href = `file://${dir}/`;
  for (const [path, text] of Object.entries(files)) {
    const url = new URL(path, href);
    Deno.mkdirSync(new URL(".", url), { recursive: true });
    Deno.writeTextFileSync(url, text);
  }
  return {
    href,
    url: (path) => new URL(path, href),
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

Deno.test("includes are joined in where asked, recursively, each file once", () => {
  using root = tree({
    "script.lua": [
      "#!lua",
      "-- header",
      '--@include "inc/a.lua"',
      '  --@include "inc/b.lua"  ',
      '--@include "inc/a.lua"',
      "return f()",
      "",
    ].join("\n"),
    "inc/a.lua": '--@include "b.lua"\nlocal function a() end\n',
    "inc/b.lua": "local function b() end\n",
  });
  const script = LuaScript.fromFile("script", "script.lua", root.href);
  assert.equal(
    script.source,
    "#!lua\n-- header\nlocal function b() end\nlocal function a() end\nreturn f()\n",
  );
  assert.deepEqual(script.includes, [
    root.url("inc/a.lua").href,
    root.url("inc/b.lua").href,
  ]);
});

Deno.test("a script without includes is read as it is", () => {
  using root = tree({ "plain.lua": "return 1" });
  const script = LuaScript.fromFile("plain", "plain.lua", root.href);
  assert.equal(script.source, "return 1");
  assert.deepEqual(script.includes, []);
});

Deno.test("include cycles end: a file already joined in (or the script itself) is dropped", () => {
  using root = tree({
    "s.lua": '--@include "x.lua"\nreturn 1\n',
    "x.lua": '--@include "y.lua"\n--@include "s.lua"\nlocal x\n',
    "y.lua": '--@include "x.lua"\nlocal y\n',
  });
  assert.equal(assembleLua(root.url("s.lua")).source, "local y\nlocal x\nreturn 1\n");
});

Deno.test("an unknown include is an error naming the file and line that asked for it", () => {
  using root = tree({
    "s.lua": '#!lua\n--@include "inc/a.lua"\n',
    "inc/a.lua": '-- a\n--@include "nope.lua"\n',
  });
  assert.throws(
    () => LuaScript.fromFile("s", "s.lua", root.href),
    /inc\/a\.lua:2: cannot include .*\/inc\/nope\.lua: no such file/,
  );
});

Deno.test("a malformed directive or an include with script flags is an error", () => {
  using root = tree({
    "bad.lua": "--@include inc/a.lua\n",
    "flags.lua": '#!lua\n--@include "inc/flagged.lua"\n',
    "inc/flagged.lua": "#!lua\nlocal z\n",
  });
  assert.throws(
    () => assembleLua(root.url("bad.lua")),
    /bad\.lua:1: expected --@include "<path>", got --@include inc\/a\.lua/,
  );
  assert.throws(
    () => assembleLua(root.url("flags.lua")),
    /inc\/flagged\.lua:1: an include file cannot carry a #! line/,
  );
});
