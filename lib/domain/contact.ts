/**
 * Contact rules: one Contact per normalised email per client. Each field keeps the value from the
 * newest event that carried a non-empty one, so the result does not depend on arrival order.
 */

export interface Contact {
  id: string;
  client: string;
  /** The normalised address: the Contact's identity. */
  email: string;
  /** The address as the newest event spelled it, for display. */
  email_as_sent: string | null;
  name: string | null;
  time_zone: string | null;
  phone: string | null;
  created_at: string;
  updated_at: string;
  /** Order key (`<at>|<event key>`) of the event each field came from. Internal; not shown by the API. */
  field_sources: Partial<Record<ContactField, string>>;
}

export type ContactField = "email_as_sent" | "name" | "time_zone" | "phone";
const CONTACT_FIELDS: readonly ContactField[] = ["email_as_sent", "name", "time_zone", "phone"];

/** What one event says about a person. */
export interface ContactObservation {
  email: string;
  email_as_sent: string | null;
  name: string | null;
  time_zone: string | null;
  phone: string | null;
  /** Order key: `<ISO at>|<event key>`; larger wins. */
  order: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
/** RFC 5321's limit: longer strings are not addresses (and would not fit in a KV key). */
const MAX_EMAIL_LENGTH = 254;
/** Zero-width and invisible formatting characters that copy-paste leaves inside addresses. */
const INVISIBLE = /[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g;

/**
 * The identity of an email address: Unicode NFKC (full-width letters become ASCII), invisible
 * characters removed, trimmed, lower-cased, and a trailing dot of the domain dropped. Null when it
 * cannot be an email address. The same person typed twice gives the same string.
 */
export function normalizeEmail(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  const email = raw.normalize("NFKC").replace(INVISIBLE, "").trim().toLowerCase().replace(/\.+$/, "");
  return email.length <= MAX_EMAIL_LENGTH && EMAIL.test(email) ? email : null;
}

/** Applies an observation to a contact (or a new one); returns null when nothing changes. */
export function applyObservation(
  existing: Contact | null,
  seen: ContactObservation,
  fresh: { id: string; client: string; now: string },
): Contact | null {
  const base: Contact = existing ?? {
    id: fresh.id,
    client: fresh.client,
    email: seen.email,
    email_as_sent: null,
    name: null,
    time_zone: null,
    phone: null,
    created_at: fresh.now,
    updated_at: fresh.now,
    field_sources: {},
  };
  const next: Contact = { ...base, field_sources: { ...base.field_sources } };
  let changed = existing === null;
  for (const field of CONTACT_FIELDS) {
    const value = seen[field];
    if (!value) continue;
    const source = next.field_sources[field];
    if (source !== undefined && source >= seen.order) continue;
    if (next[field] !== value) changed = true;
    next[field] = value;
    if (next.field_sources[field] !== seen.order) {
      next.field_sources[field] = seen.order;
      changed = true;
    }
  }
  if (!changed) return null;
  next.updated_at = fresh.now;
  return next;
}

/** The Contact as the admin API shows it. */
export function contactView(contact: Contact): Omit<Contact, "field_sources"> {
  const { field_sources: _sources, ...view } = contact;
  return view;
}
