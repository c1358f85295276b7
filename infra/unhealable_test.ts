import assert from "node:assert/strict";
import { unhealableReason } from "./unhealable.ts";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

Deno.test("unhealableReason: PostgreSQL auth, permission, database; Redis auth; DNS; TLS, and nothing a retry may heal", () => {
  const cases: [unknown, RegExp][] = [
    [
      withCode('password authentication failed for user "fastpix"', "28P01"),
      /^authentication failed: password/,
    ],
    [
      withCode('no pg_hba.conf entry for host "10.0.0.1"', "28000"),
      /^authentication failed: no pg_hba/,
    ],
    [
      withCode("permission denied for table payments", "42501"),
      /^permission denied: permission denied for table/,
    ],
    [
      withCode('database "ledger" does not exist', "3D000"),
      /^the database does not exist: database "ledger"/,
    ],
    [
      new Error("WRONGPASS invalid username-password pair or user is disabled."),
      /^authentication failed: WRONGPASS/,
    ],
    [new Error("NOAUTH Authentication required."), /^authentication required: NOAUTH/],
    [
      new Error("NOPERM User app has no permissions to run the 'xadd' command"),
      /^permission denied: NOPERM/,
    ],
    [
      new Error(
        "ERR The user executing the script can't run this command or subcommand script: 3c36, on @user_script:14.",
      ),
      /^permission denied: ERR The user executing the script/,
    ],
    [
      new Error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
      ),
      /^authentication failed/,
    ],
    [
      withCode("getaddrinfo ENOTFOUND db.invalid", "ENOTFOUND"),
      /^the host name does not resolve: getaddrinfo ENOTFOUND db\.invalid/,
    ],
    [withCode("getaddrinfo EAI_AGAIN db.example", "EAI_AGAIN"), /^the host name does not resolve/],
    [
      withCode("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"),
      /^the TLS certificate was rejected: self-signed/,
    ],
    [new Error("invalid peer certificate: UnknownIssuer"), /^the TLS certificate was rejected/],
    [
      withCode("Hostname/IP does not match certificate's altnames", "ERR_TLS_CERT_ALTNAME_INVALID"),
      /^the TLS certificate was rejected/,
    ],
    // Wrapped: the cause, or one of an AggregateError's errors.
    [new Error("connect failed", { cause: withCode("x", "28P01") }), /^authentication failed: x/],
    [
      new AggregateError([new Error("ECONNREFUSED"), withCode("y", "ENOTFOUND")]),
      /^the host name does not resolve: y/,
    ],
  ]; // deno-fmt-ignore
  for (const [error, reason] of cases) {
    assert.match(unhealableReason(error) ?? "(healable)", reason, String(error));
  }
  // Errors a retry may heal are not.
  for (
    const error of [
      withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
      withCode("read ECONNRESET", "ECONNRESET"),
      withCode("write CONNECTION_CLOSED 127.0.0.1:5432", "CONNECTION_CLOSED"),
      withCode("terminating connection due to administrator command", "57P01"),
      withCode("the database system is starting up", "57P03"),
      withCode("canceling statement due to statement timeout", "57014"),
      withCode("sorry, too many clients already", "53300"),
      withCode('relation "payments" does not exist', "42P01"),
      withCode("Cannot parse", "22P02"),
      new Error("LOADING Redis is loading the dataset in memory"),
      new Error("Connection is closed."),
      withCode("ETIMEDOUT", "ETIMEDOUT"),
      "a string",
      undefined,
    ]
  ) assert.equal(unhealableReason(error), undefined, String(error));
});
