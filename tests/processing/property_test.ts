/**
 * Property: the final Jobs and Contacts are the same for every arrival order and every duplication
 * of a booking history. Histories are random (seeded, so a failure names its seed and can be
 * replayed), delivered concurrently through the real HTTP endpoint and the real KV queue.
 */
import assert from "node:assert/strict";
import {
  addClient,
  assertFeedReplays,
  calcomBody,
  FIXTURE_SECRET,
  jobState,
  type JobView,
  listAll,
  type ListingOf,
  startMain,
  type TestServer,
  waitSettled,
  withServer,
  withTempDir,
} from "../_helpers.ts";
import { signBody } from "../../lib/calcom/signature.ts";

const HISTORIES = Number(Deno.env.get("PROPERTY_HISTORIES") ?? 300);
const ORDERS_PER_HISTORY = 3;
const PARALLEL_RUNS = 12;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Person {
  email: string;
  name: string;
}

/** Builds one random booking history as Cal.com would send it (bodies in true time order). */
function history(seed: number): string[] {
  const random = rng(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const chance = (p: number) => random() < p;
  const bodies: string[] = [];
  let clock = Date.UTC(2026, 9, 1, 12);
  const tick = () => new Date(clock += 1000 + Math.floor(random() * 600_000)).toISOString();
  let uidCounter = 0;
  const newUid = () => `s${seed}u${uidCounter++}`;
  const people: Person[] = [
    { email: "Booker@Example.com", name: "Booker One" },
    { email: "guest@example.com", name: pick(["", "Guest Person"]) },
    { email: "other@example.org", name: "Other Booker" },
  ];
  const booking = (uid: string, start: number, attendees: Person[], extra: Record<string, unknown> = {}) => ({
    uid,
    title: `Visit ${uid}`,
    startTime: new Date(Date.UTC(2026, 10, 1) + start * 3_600_000).toISOString().replace(".000Z", "Z"),
    endTime: new Date(Date.UTC(2026, 10, 1) + start * 3_600_000 + 1_800_000).toISOString(),
    attendees: attendees.map((p) => ({ email: p.email, name: p.name, timeZone: "America/Denver" })),
    organizer: { email: "owner@biz.example" },
    responses: { email: { label: "email_address", value: attendees[0].email } },
    userFieldsResponses: { notes: { label: "Notes", value: `seed ${seed}` } },
    ...extra,
  });
  const send = (trigger: string, payload: unknown) =>
    bodies.push(calcomBody(trigger, tick(), payload as Record<string, unknown>));

  const chains = 1 + (chance(0.3) ? 1 : 0);
  for (let c = 0; c < chains; c++) {
    const booker = c === 0 ? people[0] : pick([people[0], people[2]]);
    const party = chance(0.4) ? [booker, people[1]] : [booker];
    if (chance(0.15)) {
      // Seated event: several seats on one booking uid, some cancelled.
      const uid = newUid();
      const seats = [booker, people[1], people[2]].slice(0, 2 + Math.floor(random() * 2));
      for (const seat of seats) send("BOOKING_CREATED", booking(uid, c, [seat], { seatsPerTimeSlot: 5 }));
      for (const seat of seats) {
        if (chance(0.4)) {
          send("BOOKING_CANCELLED", booking(uid, c, [seat], { seatsPerTimeSlot: 5, status: "CANCELLED" }));
        }
      }
      continue;
    }
    let uid = newUid();
    let start = c * 10;
    const opening = pick(["created", "requested", "paid"]);
    if (opening === "requested") {
      send(
        "BOOKING_REQUESTED",
        booking(uid, start, party, { status: "PENDING", oneTimePassword: "otp-secret" }),
      );
      if (chance(0.25)) {
        send(
          "BOOKING_REJECTED",
          booking(uid, start, party, { status: "REJECTED", rejectionReason: "Fully booked" }),
        );
        continue;
      }
      send("BOOKING_CREATED", booking(uid, start, party));
    } else if (opening === "paid") {
      send("BOOKING_PAYMENT_INITIATED", booking(uid, start, party, { paymentId: seed }));
      send("BOOKING_CREATED", booking(uid, start, party));
      send("BOOKING_PAID", booking(uid, start, party, { paymentId: seed }));
    } else {
      send("BOOKING_CREATED", booking(uid, start, party));
    }
    const reschedules = Math.floor(random() * 4);
    for (let r = 0; r < reschedules; r++) {
      const next = newUid();
      start += 1 + Math.floor(random() * 5);
      if (chance(0.25)) {
        send(
          "BOOKING_CANCELLED",
          booking(uid, start, party, { requestReschedule: true, cancellationReason: "Please pick again" }),
        );
      }
      if (chance(0.2)) {
        send("BOOKING_REQUESTED", booking(next, start, party, { rescheduleUid: uid, status: "PENDING" }));
        send("BOOKING_CREATED", booking(next, start, party));
      } else {
        send("BOOKING_RESCHEDULED", booking(next, start, party, { rescheduleUid: uid }));
      }
      uid = next;
    }
    if (chance(0.3)) {
      send("BOOKING_NO_SHOW_UPDATED", {
        bookingUid: uid,
        attendees: [{ email: booker.email, noShow: true }],
      });
    }
    const ending = random();
    if (ending < 0.3) {
      send("BOOKING_CANCELLED", booking(uid, start, party, { cancellationReason: "Changed my mind" }));
    } else if (ending < 0.5) {
      const ended = {
        triggerEvent: "MEETING_ENDED",
        createdAt: "2026-09-01T00:00:00.000Z",
        ...booking(uid, start, party),
      };
      bodies.push(JSON.stringify(ended));
    }
  }
  return bodies;
}

/** A random order of the bodies, some of them twice. */
function delivery(bodies: string[], seed: number): string[] {
  const random = rng(seed);
  const out = [...bodies, ...bodies.filter(() => random() < 0.3)];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Reads an admin listing: from an in-process server or a running process. */
type Lister = <P extends string>(path: P) => Promise<ListingOf<P>[]>;

const lister = (server: TestServer): Lister => (path) => listAll(server, path);

/** GET with the admin token, the JSON answer (any status but 200 fails). */
const adminGet = (server: TestServer) => async (path: string) => {
  const res = await server.admin<unknown>("GET", path);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
};

async function finalState(list: Lister, slug: string) {
  const jobs = await list(`/admin/clients/${slug}/jobs`);
  const contacts = await list(`/admin/clients/${slug}/contacts`);
  const contactEmail = new Map(contacts.map((c) => [c.id, c.email]));
  return {
    jobs: jobs.map((j) => ({
      ...jobState(j),
      booker: j.contact_id === null ? null : contactEmail.get(j.contact_id),
      attendee_contacts: j.attendees.map((a) =>
        a.contact_id === null ? null : contactEmail.get(a.contact_id)
      ),
    })).sort((a, b) => a.calcom_event_id.localeCompare(b.calcom_event_id)),
    contacts: contacts.map((c) => ({ email: c.email, name: c.name, phone: c.phone, time_zone: c.time_zone }))
      .sort((a, b) => a.email.localeCompare(b.email)),
  };
}

async function runHistory(server: TestServer, seed: number, orders = ORDERS_PER_HISTORY): Promise<void> {
  const bodies = history(seed);
  let reference: unknown = null;
  for (let order = 0; order < orders; order++) {
    const slug = `h${seed}-o${order}`;
    await addClient(server, slug);
    const sends = delivery(bodies, seed * 31 + order);
    const statuses = await Promise.all(sends.map(async (body) => {
      const res = await server.post(slug, body);
      await res.body?.cancel();
      return res.status;
    }));
    assert.ok(statuses.every((s) => s === 202 || s === 200), `seed ${seed}: ${statuses}`);
    const submissions = await waitSettled(server, slug, 30_000);
    assert.equal(submissions.length, bodies.length, `seed ${seed}: one submission per distinct body`);
    assert.ok(
      submissions.every((s) => s.status === "processed"),
      `seed ${seed}: ${JSON.stringify(submissions.filter((s) => s.status !== "processed"))}`,
    );
    const state = await finalState(lister(server), slug);
    // The change log, replayed from empty, is exactly the Jobs the admin API shows.
    await assertFeedReplays(
      adminGet(server),
      slug,
      await listAll(server, `/admin/clients/${slug}/jobs`),
      `seed ${seed}`,
    );
    await assertCountsMatch(server, slug, `seed ${seed}`);
    if (order === 0) reference = state;
    else assert.deepEqual(state, reference, `seed ${seed}: order ${order} differs from order 0`);
  }
}

/** The overview's counts (kept by sums in the commits) are what the listings show. */
async function assertCountsMatch(server: TestServer, slug: string, what: string): Promise<void> {
  const tally = (items: { status: string }[]) =>
    items.reduce<Record<string, number>>((out, i) => ({ ...out, [i.status]: (out[i.status] ?? 0) + 1 }), {});
  const overview = (await server.admin<
    {
      jobs_by_status: Record<string, number>;
      submissions_by_status: Record<string, number>;
      contacts: number;
    }
  >("GET", `/admin/clients/${slug}/overview`)).body;
  assert.deepEqual(
    overview.jobs_by_status,
    tally(await listAll(server, `/admin/clients/${slug}/jobs`)),
    what,
  );
  assert.deepEqual(
    overview.submissions_by_status,
    tally(await listAll(server, `/admin/clients/${slug}/submissions`)),
    what,
  );
  assert.equal(overview.contacts, (await listAll(server, `/admin/clients/${slug}/contacts`)).length, what);
}

Deno.test(`property: ${HISTORIES} random histories × ${ORDERS_PER_HISTORY} orders with duplicates give one state`, async () => {
  await withServer({}, async (server) => {
    const seeds = Array.from({ length: HISTORIES }, (_, i) => 1000 + i);
    let next = 0;
    await Promise.all(Array.from({ length: PARALLEL_RUNS }, async () => {
      while (next < seeds.length) await runHistory(server, seeds[next++]);
    }));
  });
});

Deno.test("property, inline mode: 60 histories × 2 orders give one state", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    const seeds = Array.from({ length: 60 }, (_, i) => 5000 + i);
    let next = 0;
    await Promise.all(Array.from({ length: PARALLEL_RUNS }, async () => {
      while (next < seeds.length) await runHistory(server, seeds[next++], 2);
    }));
  });
});

Deno.test("property, 3 processes in inline mode on one KV file: histories split between them at random give one process's state", async () => {
  const seeds = Array.from({ length: 30 }, (_, i) => 7000 + i);
  // What one process makes of each history.
  const expected = new Map<number, unknown>();
  await withServer({ mode: "inline" }, async (server) => {
    for (const seed of seeds) {
      await addClient(server, `m${seed}`);
      for (const body of history(seed)) await (await server.post(`m${seed}`, body)).body?.cancel();
      expected.set(seed, await finalState(lister(server), `m${seed}`));
    }
  });
  await withTempDir(async (dir) => {
    const env = { KV_PATH: `${dir}/shared.sqlite3`, PROCESSING_MODE: "inline" };
    const first = await startMain(env);
    const processes = [first, ...await Promise.all([startMain(env), startMain(env)])];
    try {
      for (const seed of seeds) {
        const slug = `m${seed}`;
        assert.equal(await first.admin("PUT", `/admin/clients/${slug}`, { secret: FIXTURE_SECRET }), 201);
        const random = rng(seed * 7);
        const sends = delivery(history(seed), seed * 13);
        const statuses = await Promise.all(sends.map(async (body) => {
          const target = processes[Math.floor(random() * processes.length)];
          const res = await fetch(`${target.url}/webhooks/calcom/${slug}`, {
            method: "POST",
            headers: { "x-cal-signature-256": await signBody(FIXTURE_SECRET, body) },
            body,
          });
          await res.body?.cancel();
          return res.status;
        }));
        const errors = processes.flatMap((p) => p.lines.filter((l) => l.includes('"error"')));
        assert.ok(
          statuses.every((s) => s === 202 || s === 200),
          `seed ${seed}: ${statuses}\n${errors.join("\n")}`,
        );
        const submissions = await first.list(`/admin/clients/${slug}/submissions`);
        assert.ok(
          submissions.every((s) => s.status === "processed"),
          `seed ${seed}: inline, so settled when answered`,
        );
        const list: Lister = (path) => processes[seed % 3].list(path);
        assert.deepEqual(await finalState(list, slug), expected.get(seed), `seed ${seed}`);
        await assertFeedReplays(
          processes[seed % 2].get,
          slug,
          await list(`/admin/clients/${slug}/jobs`),
          `seed ${seed}`,
        );
      }
    } finally {
      await Promise.all(processes.map((p) => p.stop("SIGTERM")));
    }
  });
});

Deno.test("property sanity: a chain delivered newest-first ends as one Job with its previous ids", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "chain");
    const base = {
      startTime: "2026-11-01T10:00:00Z",
      endTime: "2026-11-01T11:00:00Z",
      attendees: [{ email: "c@x.example", name: "C" }],
    };
    const a = calcomBody("BOOKING_CREATED", "2026-10-01T00:00:00Z", { ...base, uid: "A" });
    const b = calcomBody("BOOKING_RESCHEDULED", "2026-10-02T00:00:00Z", {
      ...base,
      uid: "B",
      rescheduleUid: "A",
    });
    const c = calcomBody("BOOKING_RESCHEDULED", "2026-10-03T00:00:00Z", {
      ...base,
      uid: "C",
      rescheduleUid: "B",
      startTime: "2026-11-03T10:00:00Z",
    });
    for (const body of [c, a]) await (await server.post("chain", body)).body?.cancel();
    await waitSettled(server, "chain");
    const split = await listAll(server, "/admin/clients/chain/jobs");
    assert.equal(split.length, 2, "before B arrives, C and A look like two appointments");
    await (await server.post("chain", b)).body?.cancel();
    await waitSettled(server, "chain");
    const jobs = await listAll(server, "/admin/clients/chain/jobs");
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].calcom_event_id, "C");
    assert.deepEqual(jobs[0].previous_event_ids, ["A", "B"]);
    assert.equal(jobs[0].start_time, "2026-11-03T10:00:00.000Z");
    for (const old of split) {
      const merged = await server.admin<JobView>("GET", `/admin/clients/chain/jobs/${old.id}`);
      assert.equal(merged.body.id, jobs[0].id, "the merged-away id answers with the merged Job");
    }
  });
});
