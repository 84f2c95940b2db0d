import assert from "node:assert/strict";
import {
  deriveJob,
  type Job,
  type JobEvent,
  type JobEventKind,
  linkedGroups,
  mergeEvents,
  mergeIntoJob,
} from "../../lib/domain/job.ts";

let n = 0;
function ev(kind: JobEventKind, uid: string, at: string, extra: Partial<JobEvent> = {}): JobEvent {
  return {
    key: `k${n++}`,
    submission_id: `s${n}`,
    kind,
    uid,
    at: `2026-10-${at}T00:00:00.000Z`,
    links: [],
    seated: false,
    attendees: [{ email: "a@x.example", name: "A", time_zone: null, phone: null }],
    start_time: `2026-11-${at}T10:00:00.000Z`,
    ...extra,
  };
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p])
  );
}

function assertSameForEveryOrder(events: JobEvent[]) {
  const expected = deriveJob(events);
  for (const order of permutations(events)) assert.deepEqual(deriveJob(order), expected);
  return expected;
}

Deno.test("reschedule chain A→B→C: one Job at C's time with A and B as previous ids, in any order", () => {
  const job = assertSameForEveryOrder([
    ev("created", "A", "01"),
    ev("rescheduled", "B", "02", { links: ["A"] }),
    ev("rescheduled", "C", "03", { links: ["B"] }),
  ]);
  assert.equal(job.calcom_event_id, "C");
  assert.deepEqual(job.previous_event_ids, ["A", "B"]);
  assert.equal(job.start_time, "2026-11-03T10:00:00.000Z");
  assert.equal(job.status, "scheduled");
});

Deno.test("a cancel wins over its create whatever arrives first; a late create never undoes a reschedule", () => {
  assert.equal(
    assertSameForEveryOrder([ev("created", "A", "01"), ev("cancelled", "A", "02")]).status,
    "cancelled",
  );
  const job = assertSameForEveryOrder([
    ev("created", "A", "01"),
    ev("rescheduled", "B", "02", { links: ["A"] }),
  ]);
  assert.equal(job.calcom_event_id, "B");
});

Deno.test("request reschedule, then the customer's new booking", () => {
  const asked = [ev("created", "A", "01"), ev("cancelled", "A", "02", { request_reschedule: true })];
  assert.equal(assertSameForEveryOrder(asked).status, "reschedule_requested");
  const rebooked = assertSameForEveryOrder([...asked, ev("rescheduled", "B", "03", { links: ["A"] })]);
  assert.equal(rebooked.status, "scheduled");
  assert.equal(rebooked.cancellation_reason, null);
});

Deno.test("requested → confirmed / rejected; payments never change scheduled or cancelled", () => {
  assert.equal(
    assertSameForEveryOrder([ev("requested", "A", "01"), ev("created", "A", "02")]).status,
    "scheduled",
  );
  const rejected = assertSameForEveryOrder([
    ev("requested", "A", "01"),
    ev("rejected", "A", "02", { rejection_reason: "busy" }),
  ]);
  assert.equal(rejected.status, "rejected");
  assert.equal(rejected.rejection_reason, "busy");
  const paid = assertSameForEveryOrder([
    ev("payment_initiated", "A", "01", { payment_id: "9" }),
    ev("created", "A", "02"),
    ev("paid", "A", "03", { payment_id: "9" }),
    ev("cancelled", "A", "04"),
  ]);
  assert.equal(paid.status, "cancelled");
  assert.equal(paid.payment_status, "paid");
  assert.equal(paid.payment_id, "9");
  assert.equal(assertSameForEveryOrder([ev("payment_initiated", "A", "01")]).payment_status, "pending");
});

Deno.test("seats: each seat adds an attendee; a seat cancel removes only that one", () => {
  const seat = (email: string) => [{ email, name: email, time_zone: null, phone: null }];
  const job = assertSameForEveryOrder([
    ev("created", "S", "01", { seated: true, attendees: seat("one@x.example") }),
    ev("created", "S", "02", { seated: true, attendees: seat("two@x.example") }),
    ev("cancelled", "S", "03", { seated: true, attendees: seat("one@x.example") }),
  ]);
  assert.equal(job.status, "scheduled");
  assert.deepEqual(job.attendees.map((a) => a.email), ["two@x.example"]);
  const empty = deriveJob([
    ev("created", "S", "01", { seated: true, attendees: seat("one@x.example") }),
    ev("cancelled", "S", "02", { seated: true, attendees: seat("one@x.example") }),
  ]);
  assert.equal(empty.status, "cancelled");
});

Deno.test("no-shows per attendee in createdAt order; meeting ended completes a scheduled Job only", () => {
  const job = assertSameForEveryOrder([
    ev("created", "A", "01"),
    ev("no_show", "A", "02", {
      attendees: [{ email: "a@x.example", name: null, time_zone: null, phone: null, no_show: true }],
    }),
    ev("meeting_ended", "A", "03"),
  ]);
  assert.equal(job.attendees[0].no_show, true);
  assert.equal(job.status, "completed");
  assert.equal(
    deriveJob([ev("created", "A", "01"), ev("cancelled", "A", "02"), ev("meeting_ended", "A", "03")]).status,
    "cancelled",
  );
});

Deno.test("mergeEvents drops duplicates by key and sorts", () => {
  const a = ev("created", "A", "02");
  const b = ev("cancelled", "A", "01");
  assert.deepEqual(mergeEvents([a], [b, a]).map((e) => e.key), [b.key, a.key]);
});

Deno.test("API snapshots: the booking's state at its updatedAt; never undo a reschedule request", () => {
  const snapshot = (status: JobEvent["snapshot_status"], at: string, extra: Partial<JobEvent> = {}) =>
    ev("snapshot", "b1", at, { snapshot_status: status, ...extra });
  assert.equal(
    assertSameForEveryOrder([ev("created", "b1", "01"), snapshot("cancelled", "02")]).status,
    "cancelled",
  );
  assert.equal(
    assertSameForEveryOrder([snapshot("pending", "01"), snapshot("accepted", "02")]).status,
    "scheduled",
  );
  assert.equal(
    assertSameForEveryOrder([snapshot("rejected", "02"), ev("requested", "b1", "01")]).status,
    "rejected",
  );
  // Cal.com sends the webhook before it writes the cancellation: the snapshot comes later and
  // cannot tell a reschedule request from a cancel.
  const requested = assertSameForEveryOrder([
    ev("created", "b1", "01"),
    ev("cancelled", "b1", "02", { request_reschedule: true }),
    snapshot("cancelled", "03"),
  ]);
  assert.equal(requested.status, "reschedule_requested");
});

Deno.test("API snapshots of a reschedule pair: the old uid is replaced by the new one, in any order", () => {
  const job = assertSameForEveryOrder([
    ev("created", "old", "01"),
    ev("snapshot", "old", "03", { snapshot_status: "cancelled", replaced_by: "new" }),
    ev("snapshot", "new", "02", {
      snapshot_status: "accepted",
      links: ["old"],
      start_time: "2026-12-01T10:00:00.000Z",
    }),
  ]);
  assert.equal(job.status, "scheduled");
  assert.equal(job.calcom_event_id, "new");
  assert.deepEqual(job.previous_event_ids, ["old"]);
  assert.equal(job.start_time, "2026-12-01T10:00:00.000Z");
});

/** A Job as the store would hold it, derived from its events. */
function storedJob(
  id: string,
  events: JobEvent[],
  created: string,
  contactIds: Record<string, string> = {},
): Job {
  const derived = deriveJob(events);
  return {
    id,
    client: "acme",
    ...derived,
    contact_id: derived.booker_email ? contactIds[derived.booker_email] ?? null : null,
    attendees: derived.attendees.map((a) => ({ ...a, contact_id: contactIds[a.email] ?? null })),
    events,
    created_at: created,
    updated_at: created,
  };
}

const context = (contactIds: Record<string, string> = {}) => ({
  client: "acme",
  contactIds: new Map(Object.entries(contactIds)),
  now: "2026-10-20T00:00:00.000Z",
  newId: () => "NEW",
});

Deno.test("merge rule: a new booking becomes a new Job with the Contacts given for its attendees", () => {
  const created = ev("created", "A", "01");
  const { job, changed, mergedAway } = mergeIntoJob([], [created], context({ "a@x.example": "C1" }));
  assert.equal(changed, true);
  assert.equal(job.id, "NEW");
  assert.equal(job.contact_id, "C1");
  assert.deepEqual(job.attendees.map((a) => a.contact_id), ["C1"]);
  assert.equal(job.created_at, "2026-10-20T00:00:00.000Z");
  assert.deepEqual(mergedAway, []);
});

Deno.test("merge rule: events a Job already holds change nothing", () => {
  const created = ev("created", "A", "01");
  const existing = storedJob("J1", [created], "2026-10-01T00:00:00.000Z");
  const again = mergeIntoJob([existing], [created], context());
  assert.equal(again.changed, false);
  assert.equal(again.job, existing);
});

Deno.test("merge rule: two Jobs that turn out to be one chain merge into the lower id, earliest creation, known Contacts kept", () => {
  const a = ev("created", "A", "01");
  const c = ev("rescheduled", "C", "03", {
    links: ["B"],
    attendees: [{ email: "c@x.example", name: "C", time_zone: null, phone: null }],
  });
  const jobA = storedJob("J2", [a], "2026-10-05T00:00:00.000Z", { "a@x.example": "CA" });
  const jobC = storedJob("J1", [c], "2026-10-07T00:00:00.000Z", { "c@x.example": "CC" });
  const b = ev("rescheduled", "B", "02", { links: ["A"] });
  const { job, changed, mergedAway } = mergeIntoJob([jobA, jobC], [b], context());
  assert.equal(changed, true);
  assert.equal(job.id, "J1", "the lowest id survives");
  assert.deepEqual(mergedAway.map((j) => j.id), ["J2"]);
  assert.equal(job.calcom_event_id, "C");
  assert.deepEqual(job.previous_event_ids, ["A", "B"]);
  assert.deepEqual(job.events.map((e) => e.uid), ["A", "B", "C"], "every event, in Cal.com's time order");
  assert.equal(job.created_at, "2026-10-05T00:00:00.000Z", "created when the earliest was");
  assert.equal(job.updated_at, "2026-10-20T00:00:00.000Z");
  assert.deepEqual(job.attendees.map((x) => [x.email, x.contact_id]), [["c@x.example", "CC"]]);
  // The same in any order of the Jobs given.
  assert.deepEqual(mergeIntoJob([jobC, jobA], [b], context()).job, job);
});

Deno.test("linked groups: a submission's events split by shared or linked uids", () => {
  const groups = linkedGroups([
    ev("created", "A", "01"),
    ev("created", "X", "01"),
    ev("rescheduled", "B", "02", { links: ["A"] }),
  ]);
  assert.deepEqual(groups.map((g) => g.map((e) => e.uid).sort()), [["X"], ["A", "B"]]);
});
