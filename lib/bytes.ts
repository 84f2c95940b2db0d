/** Bytes put back together: values stored in parts (the store) and bodies read in chunks (HTTP). */

/** One new buffer holding `parts` in order (a copy, never a view of theirs). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
