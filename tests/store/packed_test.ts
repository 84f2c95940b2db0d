/**
 * Packed values (`lib/store/packed.ts`): every encoding gives back exactly the bytes it was given,
 * shrinks what it was made for, and its dictionary never changes (what was stored with it could
 * no longer be read).
 */
import assert from "node:assert/strict";
import { DICTIONARIES, type Encoding, pack, unpack } from "../../lib/store/packed.ts";
import { deflateSync } from "fflate";
import { SAMPLE_TRIGGERS, sampleBody } from "../../lib/calcom/samples.ts";

/** The dictionaries as first released; a changed one must be a new encoding instead. */
const RELEASED: Partial<Record<Encoding, string>> = {
  "deflate-calcom-1": "6a9a0525c38aaf6501efe8770d85a6403872fe1ea7d00be65f447679fc7956de",
};
const ENCODINGS: Encoding[] = ["deflate-calcom-1", "deflate-raw"];

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("each encoding's dictionary is the one it was released with", async () => {
  assert.deepEqual(Object.keys(DICTIONARIES).sort(), Object.keys(RELEASED).sort());
  for (const [encoding, dictionary] of Object.entries(DICTIONARIES)) {
    assert.equal(await sha256(dictionary), RELEASED[encoding as Encoding], `${encoding} changed`);
  }
});

Deno.test("packing gives back exactly the bytes it was given, whatever they are", () => {
  const noise = crypto.getRandomValues(new Uint8Array(50_000));
  const inputs = [
    new Uint8Array(0),
    new Uint8Array([0]),
    noise,
    new TextEncoder().encode("é€😀".repeat(999)),
  ];
  for (const encoding of ENCODINGS) {
    for (const bytes of inputs) assert.deepEqual(unpack(pack(bytes, encoding), encoding), bytes);
  }
  // A value stored before encodings existed names none, and is read as it is.
  assert.equal(unpack(noise, null), noise);
  assert.throws(
    () => unpack(noise, "deflate-calcom-9" as Encoding),
    /Unknown storage encoding "deflate-calcom-9"/,
  );
});

Deno.test("a Cal.com body of any trigger packs into one KV write unit, and reads back byte for byte", () => {
  const utf8 = new TextEncoder();
  for (const trigger of SAMPLE_TRIGGERS) {
    const { body } = sampleBody(trigger, {
      uid: crypto.randomUUID().replaceAll("-", "").slice(0, 22),
      email: "ana.lopez@example.org",
      name: "Ana López",
      start: "2027-03-02T15:00:00.000Z",
      at: "2027-02-20T09:12:44.000Z",
    });
    const bytes = utf8.encode(body);
    const packed = pack(bytes, "deflate-calcom-1");
    // A write unit is 1 KiB, key included; the dictionary, not deflate alone, gets a body there.
    assert.ok(packed.length < 900, `${trigger}: ${packed.length} of ${bytes.length} bytes`);
    const plain = deflateSync(bytes).length;
    assert.ok(
      bytes.length < 1024 || packed.length < plain * 0.75,
      `${trigger}: ${packed.length} bytes; ${plain} without the dictionary`,
    );
    assert.deepEqual(unpack(packed, "deflate-calcom-1"), bytes);
  }
});
