/**
 * How large, repetitive values are stored where KV bills a write unit per KiB written (inline
 * mode): deflated, as a Cal.com body, a Job or a change-log commit is mostly field names it
 * repeats. A body is deflated against a preset dictionary of the shapes of Cal.com's bodies, so
 * what is left is the data. Each encoding is named in the value and kept forever (what was stored
 * with it must stay readable); a value stored without one is read as it is.
 */
import { deflateSync, inflateSync } from "fflate";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { CALCOM_BODY_DICTIONARY_V1 } from "../calcom/body_dictionary.ts";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A stored value's encoding: how it was packed, and how it is read back. */
interface Codec {
  pack: (bytes: Uint8Array) => Uint8Array;
  unpack: (bytes: Uint8Array) => Uint8Array;
}

/** Deflated against a preset dictionary, by fflate (Deno's node:zlib ignores `dictionary`; JavaScript, slower). */
function withDictionary(text: string): Codec {
  const dictionary = utf8.encode(text);
  return {
    pack: (bytes) => deflateSync(bytes, { dictionary }),
    unpack: (bytes) => inflateSync(bytes, { dictionary }),
  };
}

/** Every encoding a stored value may name. Add; never change or remove one. */
const CODECS = {
  /**
   * Raw Cal.com bodies: a 3 KB booking body is stored in about 700 bytes, one write unit (deflate
   * alone leaves about 1,200).
   */
  "deflate-calcom-1": withDictionary(CALCOM_BODY_DICTIONARY_V1),
  /** Jobs and change-log commits: native deflate, a quarter of the CPU, where the values are ours and repeat themselves. */
  "deflate-raw": {
    pack: (bytes) => new Uint8Array(deflateRawSync(bytes)),
    unpack: (bytes) => new Uint8Array(inflateRawSync(bytes)),
  },
} satisfies Record<string, Codec>;

export type Encoding = keyof typeof CODECS;

/** The dictionaries encodings are bound to: what was stored with one needs exactly it to be read. */
export const DICTIONARIES: Partial<Record<Encoding, string>> = {
  "deflate-calcom-1": CALCOM_BODY_DICTIONARY_V1,
};

/** The bytes as `encoding` stores them. */
export function pack(bytes: Uint8Array, encoding: Encoding): Uint8Array {
  return CODECS[encoding].pack(bytes);
}

/** A value's JSON as stored: packed with `encoding`, or (null) as plain UTF-8. */
export function packJson(value: unknown, encoding: Encoding | null): Uint8Array {
  const bytes = utf8.encode(JSON.stringify(value));
  return encoding ? pack(bytes, encoding) : bytes;
}

/** The value `packJson` was given. */
export function unpackJson<T>(bytes: Uint8Array, encoding: Encoding | null | undefined): T {
  return JSON.parse(fromUtf8.decode(unpack(bytes, encoding)));
}

/** The bytes `pack` was given (a value stored with no encoding is returned as it is). */
export function unpack(bytes: Uint8Array, encoding: Encoding | null | undefined): Uint8Array {
  if (!encoding) return bytes;
  const codec: Codec | undefined = CODECS[encoding];
  if (!codec) throw new Error(`Unknown storage encoding "${encoding}": written by a newer version?`);
  return codec.unpack(bytes);
}
