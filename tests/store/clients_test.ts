import assert from "node:assert/strict";
import { findVerifyingKey, parseSignatureHeader, signBody } from "../../lib/calcom/signature.ts";
import {
  addSecret,
  ClientGoneError,
  clientGuard,
  deleteClient,
  putClient,
  removeSecret,
  SigningKeyCache,
} from "../../lib/store/clients.ts";

const body = new TextEncoder().encode('{"triggerEvent":"PING"}');

async function verifies(cache: SigningKeyCache, secret: string): Promise<boolean> {
  const keys = await cache.get("acme");
  const signature = parseSignatureHeader(await signBody(secret, body))!;
  return keys !== null && (await findVerifyingKey(keys.keys, signature, body)) !== null;
}

Deno.test("the signing-key cache sees its own process's changes at once and another's within its TTL", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const cache = new SigningKeyCache(kv, 60_000);
    assert.equal(await cache.get("acme"), null, "no client yet");
    await putClient(kv, "acme", { secret: "first-secret-0123456789" });
    assert.ok(await verifies(cache, "first-secret-0123456789"), "a missing client is not cached");

    // Another process adds a secret: this cache, with a long TTL, keeps its keys until told.
    await addSecret(kv, "acme", "second-secret-0123456789");
    assert.equal(await verifies(cache, "second-secret-0123456789"), false);
    cache.invalidate("acme");
    assert.ok(await verifies(cache, "second-secret-0123456789"));

    // With a short TTL the client record's versionstamp is checked again and the change is seen.
    const short = new SigningKeyCache(kv, 0);
    assert.ok(await verifies(short, "first-secret-0123456789"));
    const secrets = (await short.get("acme"))!.keys;
    assert.equal(await removeSecret(kv, "acme", secrets[0].id), "removed");
    assert.equal(await verifies(short, "first-secret-0123456789"), false);
    assert.ok(await verifies(short, "second-secret-0123456789"));
  } finally {
    kv.close();
  }
});

Deno.test("clientGuard refuses a client that does not exist or was deleted", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await assert.rejects(() => clientGuard(kv, "ghost"), ClientGoneError);
    await putClient(kv, "acme", {});
    assert.equal((await clientGuard(kv, "acme")).slug, "acme");
    await deleteClient(kv, "acme");
    await assert.rejects(() => clientGuard(kv, "acme"), ClientGoneError);
  } finally {
    kv.close();
  }
});
