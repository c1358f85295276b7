import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { DEFAULT_LIMITS } from "@fastpix/pix";
import {
  maxAmountOption,
  parseInstant,
  timestampMaxSkewOption,
  timestampMinOption,
  validationLimits,
} from "./options.ts";

Deno.test("parseInstant reads an ISO date (midnight UTC) or timestamp; anything else is refused", () => {
  assert.equal(parseInstant("1960-01-01"), Date.UTC(1960, 0, 1));
  assert.equal(parseInstant(" 2000-01-01T00:00:00Z "), Date.UTC(2000, 0, 1));
  assert.equal(parseInstant("2000-01-01T00:00:00-03:00"), Date.UTC(2000, 0, 1, 3));
  for (const bad of ["", "yesterday", "1999-02-30", "2000-01-01T00:00:00+99:99", "2000"]) {
    assert.throws(() => parseInstant(bad), /Expected an ISO 8601 date or timestamp/, bad);
  }
});

/** Parses `args` with the three limit flags, `env` set for the parse only. */
function limitsFrom(args: string[], env: Record<string, string> = {}) {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} })
    .addOption(maxAmountOption()).addOption(timestampMinOption())
    .addOption(timestampMaxSkewOption());
  const names = ["PIX_MAX_AMOUNT", "TIMESTAMP_MIN", "TIMESTAMP_MAX_SKEW_MS"];
  const saved = names.map((name) => Deno.env.get(name));
  names.forEach((name) => Deno.env.delete(name));
  try {
    for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
    program.parse(args, { from: "user" });
    return validationLimits(program.opts());
  } finally {
    names.forEach((name, i) =>
      saved[i] === undefined ? Deno.env.delete(name) : Deno.env.set(name, saved[i]!)
    );
  }
}

Deno.test("the timestamp window: flag beats env var beats default; bad values name the option", () => {
  assert.deepEqual(limitsFrom([]), DEFAULT_LIMITS);
  assert.equal(limitsFrom([]).minTimestampMs, Date.UTC(2000, 0, 1));
  const env = { TIMESTAMP_MIN: "1960-01-01", TIMESTAMP_MAX_SKEW_MS: "60000" };
  const fromEnv = limitsFrom([], env);
  assert.equal(fromEnv.minTimestampMs, Date.UTC(1960, 0, 1));
  assert.equal(fromEnv.maxFutureSkewMs, 60_000);
  const fromFlags = limitsFrom(
    ["--timestamp-min", "1990-06-01T12:00:00Z", "--timestamp-max-skew-ms", "0"],
    env,
  );
  assert.equal(fromFlags.minTimestampMs, Date.UTC(1990, 5, 1, 12));
  assert.equal(fromFlags.maxFutureSkewMs, 0);
  assert.throws(() => limitsFrom(["--timestamp-min", "soon"]), /--timestamp-min <iso>.*'soon'/);
  assert.throws(
    () => limitsFrom([], { TIMESTAMP_MAX_SKEW_MS: "-1" }),
    /--timestamp-max-skew-ms <ms>.*from env 'TIMESTAMP_MAX_SKEW_MS'/,
  );
});
