import assert from "node:assert/strict";
import { Auth, cookieValue, isLoopback, SESSION_COOKIE } from "./auth.ts";

const KEY = "dashboard-key-0123456789";

const request = (headers: Record<string, string>, method = "GET") =>
  new Request("http://127.0.0.1:8090/", { method, headers });

Deno.test("isLoopback: 127/8, ::1 and localhost only", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["0.0.0.0", "::", "192.168.1.10", "example.com", "127.0.0.1.evil.com"]) {
    assert.equal(isLoopback(h), false, h);
  }
});

Deno.test("cookieValue finds one cookie among several", () => {
  assert.equal(cookieValue("a=1; fastpix_dashboard=xyz; b=2", SESSION_COOKIE), "xyz");
  assert.equal(cookieValue("a=1", SESSION_COOKIE), undefined);
  assert.equal(cookieValue(null, SESSION_COOKIE), undefined);
});

Deno.test("Auth without keys: everyone in, but only under a loopback host name", () => {
  const auth = new Auth([]);
  assert.equal(auth.required, false);
  assert.equal(auth.allows(request({ host: "127.0.0.1:8090" })), true);
  assert.equal(auth.refusal(request({ host: "127.0.0.1:8090" })), undefined);
  assert.equal(auth.refusal(request({ host: "localhost" })), undefined);
  assert.equal(auth.refusal(request({ host: "[::1]:8090" })), undefined);
  // DNS rebinding: a foreign name resolving to 127.0.0.1 is refused.
  assert.equal(auth.refusal(request({ host: "attacker.example:8090" })), "unknown host");
});

Deno.test("Auth with keys: a key header, a bearer token or a live session cookie", () => {
  const auth = new Auth([KEY]);
  assert.equal(auth.required, true);
  assert.equal(auth.refusal(request({ host: "dash.internal:8090" })), undefined);
  assert.equal(auth.allows(request({})), false);
  assert.equal(auth.allows(request({ "x-api-key": KEY })), true);
  assert.equal(auth.allows(request({ "x-api-key": `${KEY}x` })), false);
  assert.equal(auth.allows(request({ authorization: `Bearer ${KEY}` })), true);
  assert.equal(auth.allows(request({ authorization: "Bearer nope" })), false);
  const setCookie = auth.startSession();
  assert.match(setCookie, /^fastpix_dashboard=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict;/);
  const cookie = setCookie.split(";")[0];
  assert.equal(auth.allows(request({ cookie })), true);
  assert.equal(auth.allows(request({ cookie: `${SESSION_COOKIE}=${"0".repeat(64)}` })), false);
  const cleared = auth.endSession(request({ cookie }));
  assert.match(cleared, /Max-Age=0/);
  assert.equal(auth.allows(request({ cookie })), false);
});

Deno.test("Auth.sameOrigin: changes only from the dashboard's own origin", () => {
  const auth = new Auth([KEY]);
  const post = (headers: Record<string, string>) =>
    auth.sameOrigin(request({ host: "127.0.0.1:8090", ...headers }, "POST"));
  assert.equal(post({ origin: "http://127.0.0.1:8090" }), true);
  assert.equal(post({ origin: "http://evil.example" }), false);
  assert.equal(post({ origin: "null" }), false);
  assert.equal(post({}), true); // a script (curl) sends no Origin
  assert.equal(post({ "sec-fetch-site": "cross-site" }), false);
});
