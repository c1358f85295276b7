import assert from "node:assert/strict";
import { isPersonalField, maskFields, maskText, maskValue } from "./masking.ts";

Deno.test("payer and payee fields are personal, the others are not", () => {
  for (const name of ["payer_key", "payee_key", "payer_name", "payee_name", "Payer_document"]) {
    assert.equal(isPersonalField(name), true, name);
  }
  for (const name of ["transaction_id", "amount", "backend_id", "description", "payer"]) {
    assert.equal(isPersonalField(name), false, name);
  }
});

Deno.test("maskValue keeps two characters at each end of long values only", () => {
  assert.equal(maskValue("maria@example.com"), "ma•••om");
  assert.equal(maskValue("12345678909"), "12•••09");
  assert.equal(maskValue("Ana"), "•••");
  assert.equal(maskValue("1234567"), "•••");
});

Deno.test("maskFields masks the personal fields unless revealed", () => {
  const fields = { transaction_id: "t1", payer_key: "maria@example.com", payer_name: "Maria" };
  assert.deepEqual(maskFields(fields, false), {
    fields: { transaction_id: "t1", payer_key: "ma•••om", payer_name: "•••" },
    masked: ["payer_key", "payer_name"],
  });
  assert.deepEqual(maskFields(fields, true), { fields, masked: [] });
});

Deno.test("maskText masks the personal values a reason quotes, whole or cut at 40", () => {
  const key = "x".repeat(30) + "y".repeat(30);
  const fields = { payer_key: "bad-key@", payee_key: key, amount: "1.00" };
  assert.equal(
    maskText('Cannot accept payer_key "bad-key@": no PIX key has this shape', fields, false),
    'Cannot accept payer_key "ba•••y@": no PIX key has this shape',
  );
  assert.equal(
    maskText(`Cannot accept payee_key "${key.slice(0, 40)}…"`, fields, false),
    'Cannot accept payee_key "xx•••yy…"',
  );
  assert.equal(maskText("amount 1.00 is fine", fields, false), "amount 1.00 is fine");
  assert.equal(maskText('payer_key "bad-key@"', fields, true), 'payer_key "bad-key@"');
});
