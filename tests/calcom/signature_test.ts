import assert from "node:assert/strict";
import {
  findVerifyingKey,
  importSigningKey,
  parseSignatureHeader,
  signatureHeaderProblem,
  signBody,
} from "../../lib/calcom/signature.ts";
import { fixture, FIXTURE_NAMES, FIXTURE_SECRET } from "../_helpers.ts";

const encode = (s: string) => new TextEncoder().encode(s);

Deno.test("every fixture's published signature verifies over its compact body", async () => {
  const keys = [{ id: "wrong", key: await importSigningKey("other-secret") }, {
    id: "right",
    key: await importSigningKey(FIXTURE_SECRET),
  }];
  for (const name of FIXTURE_NAMES) {
    const { body, signature } = fixture(name);
    assert.equal(await signBody(FIXTURE_SECRET, body), signature, name);
    assert.equal(await findVerifyingKey(keys, parseSignatureHeader(signature)!, encode(body)), "right", name);
  }
});

Deno.test("re-serialised (pretty-printed) bodies do not verify: the HMAC is over the exact bytes", async () => {
  const { json, signature } = fixture("booking_created");
  const keys = [{ id: "k", key: await importSigningKey(FIXTURE_SECRET) }];
  const pretty = encode(JSON.stringify(json, null, 2));
  assert.equal(await findVerifyingKey(keys, parseSignatureHeader(signature)!, pretty), null);
});

Deno.test("signature header problems are told apart", () => {
  assert.equal(signatureHeaderProblem(null), "missing");
  assert.equal(signatureHeaderProblem("  "), "missing");
  assert.equal(signatureHeaderProblem("no-secret-provided"), "no_secret_provided");
  assert.equal(signatureHeaderProblem("sha256=" + "a".repeat(64)), "malformed");
  assert.equal(signatureHeaderProblem("g".repeat(64)), "malformed");
  assert.equal(signatureHeaderProblem("A".repeat(64)), null);
  assert.deepEqual(parseSignatureHeader(" " + "0f".repeat(32) + " "), new Uint8Array(32).fill(15));
  assert.equal(parseSignatureHeader("0f".repeat(31)), null);
});

Deno.test("verification finds the secret that signed a body, for secrets shorter and longer than a block", async () => {
  for (const length of [1, 31, 63, 64, 65, 100, 200]) {
    const secret = Array.from({ length }, (_, i) => String.fromCharCode(33 + (i * 7) % 90)).join("");
    const keys = [
      { id: "other", key: await importSigningKey(secret + "x") },
      { id: "mine", key: await importSigningKey(secret) },
    ];
    for (const body of ["", "x", '{"triggerEvent":"PING"}', "é".repeat(700)]) {
      const signature = parseSignatureHeader(await signBody(secret, body))!;
      // Twice: a key must not be consumed by a use.
      assert.equal(await findVerifyingKey(keys, signature, encode(body)), "mine", `key ${length}`);
      assert.equal(await findVerifyingKey(keys, signature, encode(body)), "mine", `key ${length}, again`);
      const flipped = signature.slice();
      flipped[31] ^= 1;
      assert.equal(await findVerifyingKey(keys, flipped, encode(body)), null, `key ${length}, one bit off`);
    }
  }
});

Deno.test("signature headers with a non-hex character anywhere are malformed", () => {
  const valid = "0123456789abcdefABCDEF".repeat(3).slice(0, 64);
  assert.ok(parseSignatureHeader(valid));
  for (const bad of ["g", "G", "z", " ", "-", "é", ":"]) {
    for (const at of [0, 1, 31, 62, 63]) {
      const header = valid.slice(0, at) + bad + valid.slice(at + 1);
      assert.equal(parseSignatureHeader(header), null, `${bad} at ${at}`);
      assert.equal(signatureHeaderProblem(header), "malformed", `${bad} at ${at}`);
    }
  }
});
