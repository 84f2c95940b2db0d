/**
 * Erasing a person: what counts as their data (their addresses, names and phone numbers) and how
 * it is scrubbed out of any stored value, wherever it sits (a Job's events, a title like "Call
 * between Dana and Priya", a raw body). Pure.
 */

/** What replaces an erased value. */
export const ERASED = "[erased]";

/** Shorter strings are not looked for (a two-letter name would hit unrelated words). */
const MIN_NEEDLE_LENGTH = 3;

/**
 * A matcher for the person's values: case-insensitive, and only where a value is not part of a
 * longer word or address (erasing "Ann" leaves "Annual" alone).
 */
export function personMatcher(values: Iterable<string | null | undefined>): RegExp | null {
  const needles = [
    ...new Set([...values].map((v) => v?.trim() ?? "").filter((v) => v.length >= MIN_NEEDLE_LENGTH)),
  ]
    .sort((a, b) => b.length - a.length)
    .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (needles.length === 0) return null;
  return new RegExp(`(?<![\\p{L}\\p{N}_.+-])(?:${needles.join("|")})(?![\\p{L}\\p{N}_@-])`, "giu");
}

/** The value with every match replaced in every string it holds (keys included); `changed` says if any was. */
export function scrub<T>(value: T, matcher: RegExp): { value: T; changed: boolean } {
  let changed = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      const out = v.replace(matcher, ERASED);
      if (out !== v) changed = true;
      return out;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Uint8Array) return v;
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [walk(k) as string, walk(x)]));
    }
    return v;
  };
  const out = walk(value) as T;
  return { value: out, changed };
}

/** A stored body with the person scrubbed out: JSON stays JSON (re-serialised), other text is replaced as text. */
export function scrubText(text: string, matcher: RegExp): { text: string; changed: boolean } {
  try {
    const parsed = JSON.parse(text);
    const { value, changed } = scrub(parsed, matcher);
    return { text: changed ? JSON.stringify(value) : text, changed };
  } catch {
    const out = text.replace(matcher, ERASED);
    return { text: out, changed: out !== text };
  }
}

/** Keys whose values are secrets wherever they appear in a body (Cal.com's `oneTimePassword`, video passwords, …). */
const SECRET_KEY =
  /secret|password|passwd|token|otp|onetimepassword|signature|api_?key|authorization|credential/i;

/**
 * A raw body as an operator may see it: JSON with every secret-looking field's value redacted, or
 * (a payload template's form-encoded text) the text with such fields' values redacted.
 */
export function redactBody(text: string): { format: "json" | "text"; body: unknown } {
  try {
    return { format: "json", body: redactSecrets(JSON.parse(text)) };
  } catch {
    const field = new RegExp(`((?:${SECRET_KEY.source})[^=&\\s]*=)[^&\\s]*`, "gi");
    return { format: "text", body: text.replace(field, "$1[redacted]") };
  }
}

/** A value as an operator may see it: every secret-looking field's value replaced by "[redacted]". */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? "[redacted]" : redactSecrets(v)]),
    );
  }
  return value;
}
