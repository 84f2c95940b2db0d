import assert from "node:assert/strict";
import { decodeHtmlEntities, interpretBody, isoOrNull } from "../../lib/calcom/normalize.ts";
import { calcomBody, fixture } from "../_helpers.ts";

const NOW = "2026-11-28T00:00:00.000Z";

function booking(text: string) {
  const result = interpretBody(text, NOW);
  if (result.kind !== "booking") throw new Error(`expected a booking, got ${JSON.stringify(result)}`);
  return result;
}

Deno.test("BOOKING_CREATED fixture gives the seed spec's submission fields", () => {
  const { fields, events } = booking(fixture("booking_created").body);
  assert.deepEqual(fields, {
    event_type: "BOOKING_CREATED",
    booking_uid: "8sQm2xKpV4nTcRw7yHdJ3L",
    title: "On-site Estimate between Dana Whitfield and Marcus Okafor",
    start_time: "2026-10-14T16:00:00.000Z",
    end_time: "2026-10-14T17:00:00.000Z",
    attendee_name: "Marcus Okafor",
    attendee_email: "marcus.okafor@example.net",
    attendee_time_zone: "America/Denver",
    organizer_email: "dana@northpeak-plumbing.example",
    rescheduled_from_uid: null,
    cancellation_reason: null,
    created_at: "2026-10-02T21:14:07.352Z",
  });
  assert.equal(events.length, 1);
  assert.equal(events[0].kind, "created");
  assert.deepEqual(events[0].responses, {
    "job-type": "Water heater repair/replacement",
    "property-type": "Single-family home",
  });
  assert.equal(events[0].attendees[0].phone, "+13035550147");
});

Deno.test("reschedule links the old uid; cancel keeps its reason; time formats are normalised", () => {
  const rescheduled = booking(fixture("booking_rescheduled").body);
  assert.equal(rescheduled.fields.rescheduled_from_uid, "8sQm2xKpV4nTcRw7yHdJ3L");
  assert.deepEqual(rescheduled.events[0].links, ["8sQm2xKpV4nTcRw7yHdJ3L"]);
  const cancelled = booking(fixture("booking_cancelled").body);
  assert.equal(cancelled.fields.start_time, "2026-10-16T19:30:00.000Z", "+00:00 becomes Z");
  assert.match(cancelled.fields.cancellation_reason!, /sooner/);
  assert.equal(isoOrNull("2026-10-16T13:30:00-06:00"), "2026-10-16T19:30:00.000Z");
  assert.equal(isoOrNull("not a date"), null);
});

Deno.test("{firstName,lastName} names, guests, flat MEETING_ENDED and no-show bodies", () => {
  const requested = booking(fixture("booking_requested").body);
  assert.equal(requested.fields.attendee_name, "Lena Park");
  assert.deepEqual(requested.events[0].attendees.map((a) => a.email), [
    "lena.park@example.org",
    "facilities@brightline-dental.example",
  ]);
  assert.equal(requested.events[0].attendees[1].name, null);

  const ended = booking(fixture("meeting_ended").body);
  assert.equal(ended.events[0].kind, "meeting_ended");
  assert.equal(ended.events[0].uid, "Hx4Vb9NqT2kWc6RmZp8YsE");
  assert.equal(
    ended.events[0].at,
    "2026-10-12T22:30:00.000Z",
    "ordered by the meeting's end, not booking creation",
  );

  const noShow = booking(fixture("booking_no_show_updated").body);
  assert.deepEqual(noShow.events[0].attendees, [
    { email: "jordan.ellis@example.com", name: null, time_zone: null, phone: null, no_show: true },
  ]);
});

Deno.test("names from responses, HTML entities from payload templates, odd emails", () => {
  const body = calcomBody("BOOKING_CREATED", "2026-10-01T00:00:00Z", {
    uid: "u1",
    startTime: "2026-10-02T10:00:00Z",
    endTime: "2026-10-02T11:00:00Z",
    attendees: [{ email: "  Sean.O'Brien@Example.COM ", name: "" }],
    responses: { name: { label: "your_name", value: { firstName: "Se&#xe1;n", lastName: "O&#x27;Brien" } } },
  });
  const { events } = booking(body);
  assert.equal(events[0].attendees[0].email, "sean.o'brien@example.com");
  assert.equal(events[0].attendees[0].name, "Seán O'Brien");
  assert.equal(decodeHtmlEntities("Tom &amp; Jerry &lt;3 &#39;x&#39; &bogus;"), "Tom & Jerry <3 'x' &bogus;");
});

Deno.test("seated reschedule moves the attendee between two bookings without linking them", () => {
  const body = calcomBody("BOOKING_RESCHEDULED", "2026-10-01T00:00:00Z", {
    uid: "slot-b",
    rescheduleUid: "slot-a",
    seatsPerTimeSlot: 10,
    startTime: "2026-10-02T10:00:00Z",
    endTime: "2026-10-02T11:00:00Z",
    attendees: [{ email: "seat@example.com", name: "Seat" }],
  });
  const { events } = booking(body);
  assert.deepEqual(events.map((e) => [e.kind, e.uid, e.links]), [["created", "slot-b", []], [
    "cancelled",
    "slot-a",
    [],
  ]]);
});

Deno.test("unusable bodies are explained; pings and other triggers are recognised", () => {
  const reasons: [string, RegExp][] = [
    ["not json", /not JSON/],
    ["a=1&b=2", /form-encoded/],
    ["false", /not an object/],
    ["[1,2]", /array/],
    ["{}", /triggerEvent/],
    [calcomBody("BOOKING_CREATED", NOW, { startTime: NOW, attendees: [{ email: "a@b.c" }] }), /uid/],
    [calcomBody("BOOKING_CREATED", NOW, { uid: "x", attendees: [{ email: "a@b.c" }] }), /startTime/],
    [
      calcomBody("BOOKING_CREATED", NOW, { uid: "x", startTime: NOW, attendees: [{ email: "no email" }] }),
      /email/,
    ],
    [calcomBody("BOOKING_CREATED", NOW, { uid: "x", startTime: "tomorrow", attendees: [] }), /date-time/],
  ];
  for (const [text, reason] of reasons) {
    const result = interpretBody(text, NOW);
    assert.equal(result.kind, "invalid", text);
    assert.match((result as { reason: string }).reason, reason, text);
  }
  // Cal.com's own format is always a JSON object with "triggerEvent" (and "payload", but for the
  // flat MEETING_* bodies): anything else that verified was made by a payload template.
  for (
    const text of [
      "not json",
      "a=1&b=2",
      "false",
      "[1,2]",
      "{}",
      '{"triggerEvent":"BOOKING_CREATED","uid":"x"}',
    ]
  ) {
    const result = interpretBody(text, NOW);
    assert.equal(result.kind === "invalid" && result.cause, "payload_template", text);
    assert.match(
      (result as { reason: string }).reason,
      /clear the payload template of the webhook in Cal\.com/i,
    );
  }
  const missingUid = interpretBody(calcomBody("BOOKING_CREATED", NOW, { startTime: NOW }), NOW);
  assert.equal(
    missingUid.kind === "invalid" && missingUid.cause,
    undefined,
    "a real body with a problem is no template",
  );
  assert.equal(interpretBody(fixture("ping").body, NOW).kind, "ping");
  assert.equal(interpretBody(calcomBody("FORM_SUBMITTED", NOW, {}), NOW).kind, "ignored");
});

Deno.test("a host's reschedule request: the field when Cal.com sends it, the reason text when it is older", () => {
  const cancel = (extra: Record<string, unknown>) =>
    booking(calcomBody("BOOKING_CANCELLED", NOW, { uid: "rr-1", attendees: [{ email: "a@b.c" }], ...extra }))
      .events[0].request_reschedule;
  const reason = "Please reschedule. I am ill that day.";
  assert.equal(cancel({ cancellationReason: reason }), true, "pre-2026 Cal.com: no requestReschedule field");
  assert.equal(cancel({ cancellationReason: reason, requestReschedule: true }), true);
  assert.equal(cancel({ cancellationReason: reason, requestReschedule: false }), false, "the field decides");
  assert.equal(cancel({ cancellationReason: "Cannot make it" }), false);
});

Deno.test("a recurring cancellation asks for a follow-up through the API; a plain one does not", () => {
  const followUp = (extra: Record<string, unknown>) =>
    booking(calcomBody("BOOKING_CANCELLED", NOW, { uid: "occ-1", attendees: [{ email: "a@b.c" }], ...extra }))
      .follow_up;
  assert.deepEqual(followUp({ recurringEvent: { freq: 2, count: 3, interval: 1 } }), {
    uid: "occ-1",
    reason: "recurring_cancellation",
  });
  assert.equal(followUp({}), null);
});
