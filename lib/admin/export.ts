/**
 * CSV exports of a client's Jobs and Contacts, for the business itself (spreadsheets). Written
 * with csv-stringify (RFC 4180 quoting); every cell a spreadsheet would run as a formula (one
 * starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, as OWASP
 * recommends against CSV injection: names and titles come from whoever booked.
 */
import { stringify } from "csv-stringify/sync";
import type { Contact } from "../domain/contact.ts";
import type { Job } from "../domain/job.ts";

const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell a spreadsheet shows as text, never evaluates. */
export function safeCell(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  return FORMULA_START.test(text) ? `'${text}` : text;
}

const JOB_COLUMNS: [string, (j: Job) => unknown][] = [
  ["job_id", (j) => j.id],
  ["calcom_event_id", (j) => j.calcom_event_id],
  ["status", (j) => j.status],
  ["title", (j) => j.title],
  ["start_time", (j) => j.start_time],
  ["end_time", (j) => j.end_time],
  ["location", (j) => j.location],
  ["booker_email", (j) => j.booker_email],
  ["booker_name", (j) => j.attendees[0]?.name],
  ["attendees", (j) => j.attendees.map((a) => a.email).join("; ")],
  ["organizer_email", (j) => j.organizer_email],
  ["cancellation_reason", (j) => j.cancellation_reason ?? j.rejection_reason],
  ["payment_status", (j) => j.payment_status],
  ["previous_event_ids", (j) => j.previous_event_ids.join("; ")],
  ["created_at", (j) => j.created_at],
  ["updated_at", (j) => j.updated_at],
];

const CONTACT_COLUMNS: [string, (c: Contact) => unknown][] = [
  ["contact_id", (c) => c.id],
  ["email", (c) => c.email_as_sent ?? c.email],
  ["name", (c) => c.name],
  ["phone", (c) => c.phone],
  ["time_zone", (c) => c.time_zone],
  ["created_at", (c) => c.created_at],
  ["updated_at", (c) => c.updated_at],
];

function toCsv<T>(columns: [string, (item: T) => unknown][], items: Iterable<T>): string {
  const rows = [columns.map(([name]) => name)];
  for (const item of items) rows.push(columns.map(([, get]) => safeCell(get(item))));
  return stringify(rows, { record_delimiter: "\r\n" });
}

export const jobsCsv = (jobs: Iterable<Job>) => toCsv(JOB_COLUMNS, jobs);
export const contactsCsv = (contacts: Iterable<Contact>) => toCsv(CONTACT_COLUMNS, contacts);
