import assert from "node:assert/strict";
import { unhealableReason } from "./unhealable.ts";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

Deno.test("unhealableReason: refused credentials and permissions, lookups, TLS", () => {
  const cases: [unknown, RegExp][] = [
    [
      new Error("WRONGPASS invalid username-password pair or user is disabled."),
      /^authentication failed: WRONGPASS/,
    ],
    [new Error("NOAUTH Authentication required."), /^authentication required: NOAUTH/],
    [
      new Error("NOPERM User app has no permissions to run the 'xreadgroup' command"),
      /^permission denied: NOPERM/,
    ],
    [
      new Error(
        "ERR The user executing the script can't run this command or subcommand script: 3c36, on @user_script:14.",
      ),
      /^permission denied: ERR The user executing the script/,
    ],
    [
      new Error("ERR AUTH <password> called without any password configured for the default user."),
      /^authentication failed/,
    ],
    [
      withCode("getaddrinfo ENOTFOUND redis.invalid", "ENOTFOUND"),
      /^the host name does not resolve/,
    ],
    [withCode("getaddrinfo EAI_AGAIN redis", "EAI_AGAIN"), /^the host name does not resolve/],
    [
      withCode("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"),
      /^the TLS certificate was rejected/,
    ],
    [new Error("invalid peer certificate: UnknownIssuer"), /^the TLS certificate was rejected/],
    [
      new Error("outer", { cause: new Error("WRONGPASS nope") }),
      /^authentication failed: WRONGPASS nope/,
    ],
  ]; // deno-fmt-ignore
  for (const [error, expected] of cases) assert.match(unhealableReason(error) ?? "", expected);
});

Deno.test("unhealableReason: what a retry may heal is undefined", () => {
  for (
    const error of [
      withCode("connect ECONNREFUSED 127.0.0.1:6379", "ECONNREFUSED"),
      withCode("read ECONNRESET", "ECONNRESET"),
      withCode("connect ETIMEDOUT", "ETIMEDOUT"),
      new Error("Connection is closed."),
      new Error("Command timed out"),
      new Error("LOADING Redis is loading the dataset in memory"),
      new Error("NOGROUP No such key 'pix_payments' or consumer group 'g'"),
      new Error("OOM command not allowed when used memory > 'maxmemory'."),
      undefined,
    ]
  ) {
    assert.equal(unhealableReason(error), undefined, String(error));
  }
});
