/**
 * Job rules: a Job's whole state is derived from the set of booking events it has absorbed, sorted
 * by Cal.com's time for each (a webhook's `createdAt`, an API snapshot's `updatedAt`; ties broken
 * by content), so the result is the same for every arrival order, every duplication and whichever
 * channel told us first. Pure: no KV, no clock.
 */

export type JobStatus =
  | "requested"
  | "scheduled"
  | "reschedule_requested"
  | "cancelled"
  | "rejected"
  | "completed";
export const JOB_STATUSES: readonly JobStatus[] = [
  "requested",
  "scheduled",
  "reschedule_requested",
  "cancelled",
  "rejected",
  "completed",
];

export type PaymentStatus = "pending" | "paid";

export type JobEventKind =
  | "requested"
  | "created"
  | "rescheduled"
  | "cancelled"
  | "rejected"
  | "payment_initiated"
  | "paid"
  | "no_show"
  | "meeting_started"
  | "meeting_ended"
  | "reassigned"
  | "location_updated"
  | "snapshot";

/** A booking's status as Cal.com's API shows it (`snapshot` events). */
export type SnapshotStatus = "accepted" | "pending" | "cancelled" | "rejected" | "awaiting_host";

export interface EventAttendee {
  /** Normalised (`normalizeEmail`). */
  email: string;
  /** The address as the body spelled it (trimmed), for display. */
  email_as_sent?: string | null;
  name: string | null;
  time_zone: string | null;
  phone: string | null;
  /** Only set by no-show events and API snapshots. */
  no_show?: boolean;
}

/** A Job event as read from a body, before it is tied to a stored submission. */
export type DraftJobEvent = Omit<JobEvent, "key" | "submission_id">;

/** One fact about one booking uid, as kept on the Job. */
export interface JobEvent {
  /** Content identity (body SHA-256 + position): the same delivery twice is the same event. */
  key: string;
  submission_id: string;
  kind: JobEventKind;
  uid: string;
  /** ISO time the event is ordered by (Cal.com `createdAt`; meeting end/start for MEETING_*). */
  at: string;
  /** Earlier uids of the same appointment (`rescheduleUid`, `rootBookingUid`): this uid replaced them. */
  links: string[];
  /** The later uid that replaced this one (an API snapshot of a rescheduled booking's old uid). */
  replaced_by?: string | null;
  /** `snapshot` events: the booking's status in Cal.com at `at`. */
  snapshot_status?: SnapshotStatus | null;
  seated: boolean;
  attendees: EventAttendee[];
  title?: string | null;
  start_time?: string | null;
  end_time?: string | null;
  location?: string | null;
  organizer_email?: string | null;
  responses?: Record<string, unknown>;
  request_reschedule?: boolean;
  cancellation_reason?: string | null;
  rejection_reason?: string | null;
  payment_id?: string | null;
}

export interface JobAttendee {
  contact_id: string | null;
  email: string;
  name: string | null;
  no_show: boolean;
}

/** Everything about a Job that follows from its events (ids and timestamps are added by the store). */
export interface DerivedJob {
  calcom_event_id: string;
  previous_event_ids: string[];
  status: JobStatus;
  title: string | null;
  start_time: string | null;
  end_time: string | null;
  location: string | null;
  organizer_email: string | null;
  responses: Record<string, unknown>;
  booker_email: string | null;
  /** The booker's time zone as Cal.com last gave it (for showing the time as they see it). */
  booker_time_zone: string | null;
  attendees: Omit<JobAttendee, "contact_id">[];
  cancellation_reason: string | null;
  rejection_reason: string | null;
  payment_status: PaymentStatus | null;
  payment_id: string | null;
  seated: boolean;
}

/** What a business's system asked Cal.com to do to a Job (write-back). */
export const WRITE_BACK_ACTIONS = ["cancel", "reschedule", "no_show", "confirm", "decline"] as const;
export type WriteBackAction = typeof WRITE_BACK_ACTIONS[number];

/**
 * An action Cal.com accepted and has not yet echoed: the Job shows it until a webhook (or a
 * reconciliation snapshot) shows its effect, which settles it in the same change.
 */
export interface PendingAction {
  action: WriteBackAction;
  /** The booking uid it was sent for. */
  uid: string;
  requested_at: string;
  /** Who asked: "admin", "token:<id>" or "portal:<session id>". */
  by: string;
  reason: string | null;
  /** A reschedule's new start. */
  start: string | null;
  /** A no-show's attendees (emails), or the host. */
  attendees: string[] | null;
  host: boolean | null;
}

/** Whether a Job's state (after new events) shows what `pending` asked for. */
export function settles(pending: PendingAction, job: DerivedJob, incoming: readonly JobEvent[]): boolean {
  switch (pending.action) {
    case "cancel":
      return job.status === "cancelled";
    case "decline":
      return job.status === "rejected";
    case "confirm":
      return job.status === "scheduled" || job.status === "completed";
    case "reschedule":
      // Cal.com moves a booking to a new uid (and may announce it as requested, not rescheduled).
      return job.calcom_event_id !== pending.uid ||
        (pending.start !== null && job.start_time !== null &&
          Date.parse(job.start_time) === Date.parse(pending.start));
    case "no_show": {
      if (incoming.some((e) => e.kind === "no_show" || e.kind === "snapshot")) return true;
      const marked = new Set(job.attendees.filter((a) => a.no_show).map((a) => a.email));
      return (pending.attendees?.length ?? 0) > 0 && pending.attendees!.every((email) => marked.has(email));
    }
  }
}

export interface Job extends DerivedJob {
  id: string;
  /** Write-back Cal.com has accepted but not yet echoed (absent or null: none). */
  pending_action?: PendingAction | null;
  /** Rises by one with every change (absent on Jobs stored before the change log: 0). */
  version?: number;
  client: string;
  contact_id: string | null;
  attendees: JobAttendee[];
  events: JobEvent[];
  created_at: string;
  updated_at: string;
}

/** What one kind of event does to a Job while its events are folded in order. */
interface DerivationState {
  status: JobStatus | null;
  cancellationReason: string | null;
  rejectionReason: string | null;
  /** The event whose booking data (times, attendees) the Job shows. */
  current: JobEvent | null;
  /** Seated events: who holds a seat now. */
  seats: Map<string, EventAttendee>;
}

interface KindRule {
  /** Order among events at the same instant: earlier steps of a booking's life first. */
  rank: number;
  /** Carries booking data (times, attendees) a Job can show when no status event set `current`. */
  data: boolean;
  /** Its effect on the status; absent for kinds that change no status (no-shows). */
  apply?: (state: DerivationState, e: JobEvent) => void;
}

const book = (s: DerivationState, e: JobEvent) => {
  s.status = "scheduled";
  s.cancellationReason = null;
  s.current = e;
  for (const a of e.attendees) s.seats.set(a.email, a);
};

/**
 * Every kind of event, in one table: adding one is one entry here (and one trigger entry in
 * `calcom/triggers.ts` that produces it).
 */
const KINDS: Record<JobEventKind, KindRule> = {
  payment_initiated: {
    rank: 0,
    data: true,
    apply: (s, e) => {
      s.status ??= "requested";
      s.current ??= e;
    },
  },
  requested: {
    rank: 1,
    data: true,
    apply: (s, e) => {
      s.status = "requested";
      s.current = e;
    },
  },
  created: { rank: 2, data: true, apply: book },
  rescheduled: { rank: 3, data: true, apply: book },
  paid: { rank: 4, data: true, apply: confirmIfUnknown },
  meeting_started: { rank: 5, data: true, apply: confirmIfUnknown },
  no_show: { rank: 6, data: false },
  meeting_ended: { rank: 7, data: true, apply: confirmIfUnknown },
  rejected: {
    rank: 8,
    data: false,
    apply: (s, e) => {
      s.status = "rejected";
      s.rejectionReason = e.rejection_reason ?? null;
    },
  },
  reassigned: { rank: 10, data: false, apply: confirmIfUnknown },
  location_updated: { rank: 11, data: false, apply: confirmIfUnknown },
  snapshot: { rank: 12, data: true, apply: applySnapshot },
  cancelled: {
    rank: 9,
    data: false,
    apply: (s, e) => {
      if (e.seated) {
        for (const a of e.attendees) s.seats.delete(a.email);
        if (s.seats.size > 0) return;
        s.status = "cancelled";
      } else {
        s.status = e.request_reschedule ? "reschedule_requested" : "cancelled";
      }
      s.cancellationReason = e.cancellation_reason ?? null;
    },
  },
};

/**
 * An API snapshot is the booking's whole state at its `updatedAt`. Two things it cannot know: a
 * host's "request reschedule" looks like a plain cancel there (so it never turns a
 * `reschedule_requested` into `cancelled`), and a rescheduled uid's snapshot is superseded by the
 * new uid's events (it never reaches here).
 */
function applySnapshot(s: DerivationState, e: JobEvent): void {
  switch (e.snapshot_status) {
    case "accepted":
      // The whole seat list as Cal.com has it now, not seats added to earlier ones.
      if (e.seated) s.seats.clear();
      return book(s, e);
    case "pending":
    case "awaiting_host":
      return KINDS.requested.apply!(s, e);
    case "rejected":
      s.status = "rejected";
      return;
    case "cancelled":
      if (s.status !== "reschedule_requested") {
        s.status = e.request_reschedule ? "reschedule_requested" : "cancelled";
      }
      s.cancellationReason = e.cancellation_reason ?? s.cancellationReason;
      if (e.seated) s.seats.clear();
      return;
    default:
      confirmIfUnknown(s, e);
  }
}

/** Payment and meeting events prove a booking exists without saying more about its status. */
function confirmIfUnknown(s: DerivationState, e: JobEvent): void {
  s.status ??= "scheduled";
  s.current ??= e;
}

/** Total, content-only order: time, then what kind of step it is, then identity. */
export function compareEvents(a: JobEvent, b: JobEvent): number {
  const byTime = Date.parse(a.at) - Date.parse(b.at);
  if (byTime !== 0) return byTime;
  const byKind = KINDS[a.kind].rank - KINDS[b.kind].rank;
  if (byKind !== 0) return byKind;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Adds events not already present (by key) and returns them in canonical order. */
export function mergeEvents(existing: readonly JobEvent[], incoming: readonly JobEvent[]): JobEvent[] {
  const byKey = new Map(existing.map((e) => [e.key, e]));
  for (const e of incoming) if (!byKey.has(e.key)) byKey.set(e.key, e);
  return [...byKey.values()].sort(compareEvents);
}

/** Every booking uid the events name, each of which must find the Job. */
export function eventIds(events: readonly JobEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const e of events) {
    ids.add(e.uid);
    for (const l of e.links) ids.add(l);
    if (e.replaced_by) ids.add(e.replaced_by);
  }
  return ids;
}

/** Splits a submission's events into groups that belong to the same Job (shared or linked uids). */
export function linkedGroups(events: readonly JobEvent[]): JobEvent[][] {
  const groups: { ids: Set<string>; events: JobEvent[] }[] = [];
  for (const e of events) {
    const ids = eventIds([e]);
    const matching = groups.filter((g) => [...ids].some((id) => g.ids.has(id)));
    const merged = { ids, events: [e] };
    for (const g of matching) {
      g.ids.forEach((id) => merged.ids.add(id));
      merged.events.push(...g.events);
      groups.splice(groups.indexOf(g), 1);
    }
    groups.push(merged);
  }
  return groups.map((g) => g.events);
}

/** What `mergeIntoJob` decided. */
export interface JobMerge {
  /** The Job as it is after the incoming events (the surviving one, unchanged when `changed` is false). */
  job: Job;
  changed: boolean;
  /** Jobs that turned out to be the same chain and are folded into `job` (their ids redirect to it). */
  mergedAway: Job[];
}

/**
 * The merge rule, one appointment per chain: the Jobs the incoming events' uids reach (none, one, or
 * several that turn out to be one reschedule chain) and the incoming events become one Job. The
 * lowest id survives; its events are the union of all, in Cal.com's time order; its state is
 * derived from them; it was created when the earliest of them was. Attendees keep the Contact the
 * Jobs already knew for their email, else `contactIds`'. Unchanged when one Job already held every
 * incoming event.
 */
export function mergeIntoJob(
  existing: readonly Job[],
  incoming: readonly JobEvent[],
  context: { client: string; contactIds: ReadonlyMap<string, string>; now: string; newId: () => string },
): JobMerge {
  const sorted = [...existing].sort((a, b) => (a.id < b.id ? -1 : 1));
  const survivor = sorted[0];
  const events = mergeEvents(sorted.flatMap((j) => j.events), incoming);
  if (sorted.length === 1 && events.length === survivor.events.length) {
    return { job: survivor, changed: false, mergedAway: [] };
  }
  // Attendees the Jobs already know keep their Contacts (an email's Contact never changes).
  const known = new Map(context.contactIds);
  for (const job of sorted) {
    for (const a of job.attendees) if (a.contact_id && !known.has(a.email)) known.set(a.email, a.contact_id);
  }
  const derived = deriveJob(events);
  const pending = survivor?.pending_action ?? null;
  const job: Job = {
    ...(pending ? { pending_action: settles(pending, derived, incoming) ? null : pending } : {}),
    id: survivor?.id ?? context.newId(),
    version: (survivor?.version ?? 0) + 1,
    client: context.client,
    ...derived,
    contact_id: derived.booker_email ? known.get(derived.booker_email) ?? null : null,
    attendees: derived.attendees.map((a) => ({ ...a, contact_id: known.get(a.email) ?? null })),
    events,
    created_at: sorted.map((j) => j.created_at).sort()[0] ?? context.now,
    updated_at: context.now,
  };
  return { job, changed: true, mergedAway: sorted.slice(1) };
}

/** Derives a Job's state from its events. Requires at least one event. */
export function deriveJob(unsorted: readonly JobEvent[]): DerivedJob {
  const events = [...unsorted].sort(compareEvents);
  const superseded = supersededIds(events);
  const live = events.filter((e) => !superseded.has(e.uid));
  const state: DerivationState = {
    status: null,
    cancellationReason: null,
    rejectionReason: null,
    current: null,
    seats: new Map(),
  };
  const seated = events.some((e) => e.seated);
  for (const e of live) KINDS[e.kind].apply?.(state, e);
  const { current, seats, cancellationReason, rejectionReason } = state;
  let status = state.status;

  const dataEvent = current ?? [...live].reverse().find((e) => KINDS[e.kind].data) ?? live.at(-1) ??
    events.at(-1)!;
  const currentId = currentEventId(events, superseded, current);
  if (
    status === "scheduled" && live.some((e) => e.kind === "meeting_ended" && e.uid === currentId)
  ) status = "completed";

  const baseAttendees = seated ? [...seats.values()] : dataEvent.attendees;
  const attendees = applyNoShows(
    baseAttendees,
    live.filter((e) => e.kind === "no_show" || e.kind === "snapshot"),
  );
  const paid = events.filter((e) => e.kind === "paid");
  const initiated = events.filter((e) => e.kind === "payment_initiated");

  return {
    calcom_event_id: currentId,
    previous_event_ids: previousIds(events, currentId),
    status: status ?? "scheduled",
    title: latestValue(live, "title") ?? null,
    start_time: dataEvent.start_time ?? null,
    end_time: dataEvent.end_time ?? null,
    location: latestValue(live, "location") ?? null,
    organizer_email: latestValue(live, "organizer_email") ?? null,
    responses: latestValue(live, "responses") ?? {},
    booker_email: attendees[0]?.email ?? null,
    booker_time_zone: baseAttendees[0]?.time_zone ?? null,
    attendees,
    cancellation_reason: status === "cancelled" || status === "reschedule_requested"
      ? cancellationReason
      : null,
    rejection_reason: status === "rejected" ? rejectionReason : null,
    payment_status: paid.length > 0 ? "paid" : initiated.length > 0 ? "pending" : null,
    payment_id: (paid.at(-1) ?? initiated.at(-1))?.payment_id ?? null,
    seated,
  };
}

/** Uids some event says were replaced by a later booking of the same appointment. */
function supersededIds(events: readonly JobEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const e of events) {
    for (const l of e.links) if (l !== e.uid) ids.add(l);
    if (e.replaced_by && e.replaced_by !== e.uid) ids.add(e.uid);
  }
  return ids;
}

function currentEventId(
  events: readonly JobEvent[],
  superseded: Set<string>,
  current: JobEvent | null,
): string {
  if (current) return current.uid;
  const candidates = [...eventIds(events)].filter((id) => !superseded.has(id));
  const latestLive = [...events].reverse().find((e) => !superseded.has(e.uid));
  return latestLive?.uid ?? candidates.sort()[0] ?? events.at(-1)!.uid;
}

/** All other uids, oldest first: ordered by when they were replaced, then by name. */
function previousIds(events: readonly JobEvent[], currentId: string): string[] {
  const replacedAt = new Map<string, number>();
  for (const e of events) {
    const t = Date.parse(e.at);
    const replaced = e.replaced_by && e.replaced_by !== e.uid ? [...e.links, e.uid] : e.links;
    for (const id of replaced) {
      if (id === e.uid && !e.replaced_by) continue;
      if (!replacedAt.has(id) || t < replacedAt.get(id)!) replacedAt.set(id, t);
    }
  }
  const ids = [...eventIds(events)].filter((id) => id !== currentId);
  const when = (id: string) => replacedAt.get(id) ?? Number.MAX_SAFE_INTEGER;
  return ids.sort((a, b) => when(a) - when(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function latestValue<K extends "title" | "location" | "organizer_email" | "responses">(
  events: readonly JobEvent[],
  field: K,
): JobEvent[K] | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const v = events[i][field];
    if (v !== undefined && v !== null && v !== "") return v;
  }
  return undefined;
}

function applyNoShows(
  attendees: readonly EventAttendee[],
  noShowEvents: readonly JobEvent[],
): Omit<JobAttendee, "contact_id">[] {
  const noShow = new Map<string, boolean>();
  for (const e of noShowEvents) {
    for (const a of e.attendees) if (a.no_show !== undefined) noShow.set(a.email, a.no_show === true);
  }
  return attendees.map((a) => ({ email: a.email, name: a.name, no_show: noShow.get(a.email) ?? false }));
}

/** Which channel told us of an event: a webhook, or Cal.com's API (a reconciliation snapshot). */
export function eventSource(e: JobEvent): "webhook" | "api" {
  return e.kind === "snapshot" ? "api" : "webhook";
}

/** The Job as the API shows it: its events summarised (their payload details stay internal). */
export function jobView(job: Job) {
  const { events, ...rest } = job;
  return {
    ...rest,
    events: events.map((e) => ({
      submission_id: e.submission_id,
      kind: e.kind,
      source: eventSource(e),
      uid: e.uid,
      at: e.at,
    })),
  };
}

/** One step of a Job's history: an event in Cal.com's time order and what it changed. */
export interface TimelineEntry {
  at: string;
  kind: JobEventKind;
  source: "webhook" | "api";
  uid: string;
  submission_id: string;
  /** Field → [before, after], for the fields an operator follows. */
  changes: Record<string, [unknown, unknown]>;
}

const TIMELINE_FIELDS = [
  "status",
  "calcom_event_id",
  "start_time",
  "end_time",
  "title",
  "location",
  "organizer_email",
  "booker_email",
  "cancellation_reason",
  "rejection_reason",
  "payment_status",
] as const;

/** The Job's events in order, each with what it changed to the state derived from the ones before it. */
export function jobTimeline(events: readonly JobEvent[]): TimelineEntry[] {
  const sorted = [...events].sort(compareEvents);
  let before: DerivedJob | null = null;
  return sorted.map((e, i) => {
    const after = deriveJob(sorted.slice(0, i + 1));
    const changes: Record<string, [unknown, unknown]> = {};
    for (const field of TIMELINE_FIELDS) {
      const was = before ? before[field] : null;
      if (was !== after[field]) changes[field] = [was, after[field]];
    }
    const emails = (j: DerivedJob | null) =>
      (j?.attendees ?? []).map((a) => a.email + (a.no_show ? " (no-show)" : ""));
    const [was, now] = [emails(before), emails(after)];
    if (was.join() !== now.join()) changes.attendees = [was, now];
    before = after;
    return {
      at: e.at,
      kind: e.kind,
      source: eventSource(e),
      uid: e.uid,
      submission_id: e.submission_id,
      changes,
    };
  });
}
