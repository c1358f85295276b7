import assert from "node:assert/strict";
import { FINGERPRINT_LENGTH, markValue, parseMark, paymentFingerprint } from "./fingerprint.ts";

const payment = (fields: Record<string, string>, amountCents = 1990, backendId = "1") => ({
  amountCents,
  backendId,
  fields: { transaction_id: "t-1", backend_id: backendId, amount: "19.90", ...fields },
});

Deno.test("a fingerprint is 8 base64url characters, the same for the same payment", () => {
  const fp = paymentFingerprint(payment({ timestamp: "2026-01-31T12:00:00Z" }));
  assert.match(fp, /^[A-Za-z0-9_-]{8}$/);
  assert.equal(fp.length, FINGERPRINT_LENGTH);
  // An honest retry: a new timestamp, payer name or description changes nothing.
  assert.equal(
    paymentFingerprint(
      payment({ timestamp: "2026-01-31T12:05:00Z", payer_name: "Ana", description: "again" }),
    ),
    fp,
  );
});

Deno.test("amount, backend and each PIX key change the fingerprint; absent is not empty", () => {
  const base = paymentFingerprint(payment({ payer_key: "52998224725" }));
  const others = [
    paymentFingerprint(payment({ payer_key: "52998224725" }, 1991)),
    paymentFingerprint(payment({ payer_key: "52998224725" }, 1990, "2")),
    paymentFingerprint(payment({ payer_key: "11144477735" })),
    paymentFingerprint(payment({ payee_key: "52998224725" })),
    paymentFingerprint(payment({})),
    paymentFingerprint(payment({ payer_key: "" })),
  ];
  assert.equal(new Set([base, ...others]).size, others.length + 1);
});

Deno.test("a mark is <fingerprint>:<origin>; a mark without one (written before) is its origin", () => {
  const mark = { fingerprint: "AbCd-_12", origin: "1718000000000-0" };
  assert.equal(markValue(mark), "AbCd-_12:1718000000000-0");
  assert.deepEqual(parseMark(markValue(mark)), mark);
  assert.deepEqual(parseMark("AbCd-_12:source_list_0"), {
    fingerprint: "AbCd-_12",
    origin: "source_list_0",
  });
  // Marks written before fingerprints: the stream id, or the list design's source list.
  for (const old of ["1718000000000-0", "1718000000000-12", "source_list_0"]) {
    assert.deepEqual(parseMark(old), { origin: old });
  }
});
