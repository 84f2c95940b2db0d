import assert from "node:assert/strict";
import { deriveJob, type JobEvent, type JobEventKind, mergeEvents } from "../../lib/domain/job.ts";

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
