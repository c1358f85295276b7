/**
 * `deno task dashboard:build`: bundles the page's script (web/app.ts with uPlot) and stylesheet
 * (web/app.css with uPlot's) with esbuild into web/dist/, which is committed so the dashboard runs
 * without a build step and offline. A test rebuilds in memory and checks web/dist/ is up to date.
 * npm packages are found where Deno keeps them (`require.resolve` from this module).
 * @module
 */
import { createRequire } from "node:module";
import * as esbuild from "esbuild";
import { Command } from "@commander-js/extra-typings";
import { runCommand } from "@fastpix/cli";
import { UserError } from "@fastpix/pix";
// Type-only: it puts uplot in this module's graph, so Deno fetches it and require.resolve finds it.
import type {} from "uplot";

const WEB = new URL("./web/", import.meta.url);

/** The files of web/dist/, by name. */
export type Bundle = Map<string, string>;

/** esbuild resolves `uplot` and `uplot/...` to Deno's copy of the npm package. */
const denoNpm: esbuild.Plugin = {
  name: "deno-npm",
  setup(build) {
    const require = createRequire(import.meta.url);
    const root = require.resolve("uplot/package.json").replace(/package\.json$/, "");
    build.onResolve({ filter: /^uplot(\/.*)?$/ }, (args) => ({
      path: args.path === "uplot" ? `${root}dist/uPlot.esm.js` : root + args.path.slice(6),
    }));
  },
};

/** Builds the bundle in memory. */
export async function buildBundle(): Promise<Bundle> {
  const options: esbuild.BuildOptions = {
    entryPoints: {
      app: new URL("app.ts", WEB).pathname,
      "app.css": new URL("app.css", WEB).pathname,
    },
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2022", "chrome110", "firefox110", "safari16"],
    legalComments: "eof",
    // uPlot's copyright notice is a plain comment, which minifying drops: keep it here.
    banner: { js: "/*! uPlot 1.6.32 (c) Leon Sorokin, MIT License */" },
    outdir: new URL("dist/", WEB).pathname,
    write: false,
    logLevel: "silent",
    plugins: [denoNpm],
  };
  try {
    const result = await esbuild.build(options);
    const bundle: Bundle = new Map();
    for (const file of result.outputFiles ?? []) {
      const name = file.path.slice(file.path.lastIndexOf("/") + 1).replace(/\.css\.css$/, ".css");
      bundle.set(name, file.text);
    }
    return bundle;
  } finally {
    await esbuild.stop();
  }
}

/** The bundle's files as committed in web/dist/ (absent ones are missing from the map). */
export async function committedBundle(names: Iterable<string>): Promise<Bundle> {
  const bundle: Bundle = new Map();
  for (const name of names) {
    try {
      bundle.set(name, await Deno.readTextFile(new URL(`dist/${name}`, WEB)));
    } catch { /* missing */ }
  }
  return bundle;
}

const program = new Command("dashboard:build")
  .description(
    "Bundle the dashboard's page (dashboard/web/app.ts and app.css, with uPlot) with esbuild " +
      "into dashboard/web/dist/, which is committed: run it after changing the page.",
  )
  .option("--check", "write nothing; fail when web/dist/ is not what a build makes", false)
  .action(async (opts) => {
    const bundle = await buildBundle();
    if (opts.check) {
      const committed = await committedBundle(bundle.keys());
      const stale = [...bundle].filter(([name, text]) => committed.get(name) !== text);
      if (stale.length > 0) {
        throw new UserError(
          `dashboard/web/dist/${stale.map(([n]) => n).join(", ")} out of date: ` +
            "run deno task dashboard:build and commit it",
        );
      }
      console.log("dashboard/web/dist/ is up to date");
      return;
    }
    await Deno.mkdir(new URL("dist/", WEB), { recursive: true });
    for (const [name, text] of bundle) {
      await Deno.writeTextFile(new URL(`dist/${name}`, WEB), text);
      console.log(`dashboard/web/dist/${name}  ${(text.length / 1024).toFixed(1)} KiB`);
    }
  });

if (import.meta.main) await runCommand(program);
