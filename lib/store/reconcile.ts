/**
 * What reconciliation keeps per client: its durable checkpoint (the `updatedAt` up to which every
 * booking has been applied), a lease so one pass runs per client at a time across instances, the
 * last pass and the API key's state, the missed webhooks found, and follow-up uids to read by uid.
 * Also what deliveries tell about the client's webhook (version header, payload template).
 */
import {
  clientApiKeyKey,
  clientKey,
  clientReconcileKey,
  clientsPrefix,
  clientWebhookStateKey,
  followUpKey,
  followUpsPrefix,
  missedWebhookKey,
  missedWebhooksPrefix,
  reconcileDueBuiltKey,
  reconcileDueKey,
  reconcileDuePrefix,
} from "./keys.ts";
import { withOccRetry } from "./kv.ts";
import { allSubmissions } from "./submissions.ts";

export interface PassSummary {
  fetched: number;
  created: number;
  updated: number;
  unchanged: number;
  missed_webhooks: number;
}

export type ApiKeyState = "unchecked" | "ok" | "rejected";

export interface ReconcileState {
  /** Every booking changed before this was applied (null: no pass has finished yet). */
  checkpoint: string | null;
  lease_until: number;
  lease_owner: string | null;
  api_key_state: ApiKeyState;
  /** Why the API key was rejected, or why the last pass failed, in words a person can act on. */
  error: string | null;
  last_pass: (PassSummary & { started_at: string; finished_at: string; ok: boolean }) | null;
  missed_webhooks_total: number;
  /** When the client's next pass is due (its `reconcile_due` entry); null: not scheduled. */
  due_at?: number | null;
}

const EMPTY_STATE: ReconcileState = {
  checkpoint: null,
  lease_until: 0,
  lease_owner: null,
  api_key_state: "unchecked",
  error: null,
  last_pass: null,
  missed_webhooks_total: 0,
};

export async function getReconcileState(kv: Deno.Kv, slug: string): Promise<ReconcileState> {
  return reconcileStateOf((await kv.get<ReconcileState>(clientReconcileKey(slug))).value);
}

/** A stored state (or none) with every field. */
export function reconcileStateOf(stored: Partial<ReconcileState> | null): ReconcileState {
  return { ...EMPTY_STATE, ...stored };
}

/**
 * Takes (or renews, for the same owner) the client's pass lease until `until`; false when another
 * owner holds an unexpired one.
 */
export async function takeLease(
  kv: Deno.Kv,
  slug: string,
  owner: string,
  now: number,
  until: number,
): Promise<boolean> {
  const entry = await kv.get<ReconcileState>(clientReconcileKey(slug));
  const state = reconcileStateOf(entry.value);
  if (state.lease_owner !== owner && state.lease_until > now) return false;
  const result = await kv.atomic().check(entry).set(clientReconcileKey(slug), {
    ...state,
    lease_owner: owner,
    lease_until: until,
  }).commit();
  return result.ok;
}

/** A new (or removed) API key has not been tried yet: forget what Cal.com said of the old one. */
export async function resetApiKeyState(kv: Deno.Kv, slug: string): Promise<void> {
  await withOccRetry("reset API key state", async () => {
    const entry = await kv.get<ReconcileState>(clientReconcileKey(slug));
    if (!entry.value) return { op: null, result: undefined };
    const next = { ...reconcileStateOf(entry.value), api_key_state: "unchecked" as const, error: null };
    return { op: kv.atomic().check(entry).set(entry.key, next), result: undefined };
  });
}

/** Extends a lease this owner holds; false when it is no longer theirs (or the client is gone). */
export async function renewLease(kv: Deno.Kv, slug: string, owner: string, until: number): Promise<boolean> {
  return await updateReconcileState(kv, slug, owner, () => ({ lease_until: until }));
}

/** Updates the state for the lease holder (false when the lease was lost; ConflictError if it keeps racing). */
export async function updateReconcileState(
  kv: Deno.Kv,
  slug: string,
  owner: string,
  patch: (state: ReconcileState) => Partial<ReconcileState>,
): Promise<boolean> {
  return await withOccRetry("update reconcile state", async () => {
    const entry = await kv.get<ReconcileState>(clientReconcileKey(slug));
    const state = reconcileStateOf(entry.value);
    if (state.lease_owner !== owner) return { op: null, result: false };
    return {
      op: kv.atomic().check(entry).set(clientReconcileKey(slug), { ...state, ...patch(state) }),
      result: true,
    };
  });
}

/**
 * Schedules the client's next pass at `dueAtMs` (its one `reconcile_due` entry moves there); null
 * unschedules it (no API key any more). With `onlySooner`, a pass already due by then stays as it is.
 */
export async function scheduleReconcile(
  kv: Deno.Kv,
  slug: string,
  dueAtMs: number | null,
  { onlySooner = false }: { onlySooner?: boolean } = {},
): Promise<void> {
  await withOccRetry("schedule reconcile", async () => {
    const [client, entry] = await kv.getMany<[unknown, ReconcileState]>([
      clientKey(slug),
      clientReconcileKey(slug),
    ]);
    const state = reconcileStateOf(entry.value);
    // A client deleted meanwhile gets nothing written back.
    const due = state.due_at ?? null;
    const kept = due === dueAtMs || (onlySooner && due !== null && dueAtMs !== null && due <= dueAtMs);
    if (client.versionstamp === null || kept) return { op: null, result: undefined };
    const op = kv.atomic().check(client, entry).set(clientReconcileKey(slug), { ...state, due_at: dueAtMs });
    if (state.due_at != null) op.delete(reconcileDueKey(state.due_at, slug));
    if (dueAtMs !== null) op.set(reconcileDueKey(dueAtMs, slug), null);
    return { op, result: undefined };
  });
}

export interface DueEntry {
  slug: string;
  due_at: number;
}

/** Clients whose pass is due by `nowMs`, soonest first (one listing; empty when none is due). */
export async function dueForReconcile(kv: Deno.Kv, nowMs: number, limit = 100): Promise<DueEntry[]> {
  return await Array.fromAsync(
    kv.list({ start: [...reconcileDuePrefix(), 0], end: [...reconcileDuePrefix(), nowMs + 1] }, { limit }),
    (e) => ({ due_at: Number(e.key[1]), slug: String(e.key[2]) }),
  );
}

/** Drops a due entry whose client is gone or has no key any more (found by the tick). */
export async function dropDueEntry(kv: Deno.Kv, due: DueEntry): Promise<void> {
  await kv.delete(reconcileDueKey(due.due_at, due.slug));
}

/**
 * Gives every client with an API key a due entry, once per deployment (the index is newer than
 * some data); later ticks read one key to know it is done.
 */
export async function buildReconcileIndexOnce(kv: Deno.Kv, nowMs: number): Promise<void> {
  if ((await kv.get(reconcileDueBuiltKey())).versionstamp !== null) return;
  for await (const c of kv.list<{ slug: string }>({ prefix: clientsPrefix() })) {
    const slug = c.value.slug;
    const [key, state] = await kv.getMany<[unknown, ReconcileState]>([
      clientApiKeyKey(slug),
      clientReconcileKey(slug),
    ]);
    if (key.value === null || state.value?.due_at != null) continue;
    await scheduleReconcile(kv, slug, nowMs);
  }
  await kv.set(reconcileDueBuiltKey(), true);
}

export interface MissedWebhook {
  uid: string;
  job_id: string | null;
  /** The booking's status in Cal.com when found. */
  booking_status: string | null;
  booking_updated_at: string | null;
  found_at: string;
}

/** Records a missed webhook once; true when it is new (a re-read booking is not counted twice). */
export async function recordMissedWebhook(
  kv: Deno.Kv,
  slug: string,
  missed: MissedWebhook,
): Promise<boolean> {
  const key = missedWebhookKey(slug, missed.uid);
  const result = await kv.atomic().check({ key, versionstamp: null }).set(key, missed).commit();
  return result.ok;
}

export async function listMissedWebhooks(kv: Deno.Kv, slug: string, limit: number): Promise<MissedWebhook[]> {
  return await Array.fromAsync(
    kv.list<MissedWebhook>({ prefix: missedWebhooksPrefix(slug) }, { limit }),
    (e) => e.value,
  );
}

export interface FollowUp {
  uid: string;
  reason: string;
  requested_at: string;
}

export async function addFollowUp(kv: Deno.Kv, slug: string, followUp: FollowUp): Promise<void> {
  await kv.set(followUpKey(slug, followUp.uid), followUp);
}

export async function listFollowUps(kv: Deno.Kv, slug: string): Promise<FollowUp[]> {
  return await Array.fromAsync(
    kv.list<FollowUp>({ prefix: followUpsPrefix(slug) }, { limit: 100 }),
    (e) => e.value,
  );
}

export async function deleteFollowUp(kv: Deno.Kv, slug: string, uid: string): Promise<void> {
  await kv.delete(followUpKey(slug, uid));
}

/** What deliveries told about a client's Cal.com webhook. */
export interface WebhookState {
  /** The last `X-Cal-Webhook-Version` header seen (older self-hosted Cal.com sends none). */
  webhook_version: string | null;
  webhook_version_seen_at: string | null;
  /** Set by a delivery a payload template made; cleared by a later delivery in Cal.com's own format. */
  payload_template_detected: { at: string; submission_id: string | null; message: string } | null;
  /**
   * When signed deliveries came, one per minute at most, the newest `DELIVERY_TIMES_KEPT` (ms):
   * what the silence rule reads, without reading the client's submissions. Absent in records
   * written before it was kept (`deliveryTimes` fills it in once).
   */
  deliveries?: number[];
}

/** Deliveries kept for the silence rule (the usual gap is the median of the last 50 gaps). */
export const DELIVERY_TIMES_KEPT = 51;
const MINUTE = 60_000;

const NO_STATE: WebhookState = {
  webhook_version: null,
  webhook_version_seen_at: null,
  payload_template_detected: null,
};

export async function getWebhookState(kv: Deno.Kv, slug: string): Promise<WebhookState | null> {
  return (await kv.get<WebhookState>(clientWebhookStateKey(slug))).value;
}

/**
 * When the client's deliveries came (see `WebhookState.deliveries`). A record from before they
 * were kept is filled in once from the stored submissions.
 */
export async function deliveryTimes(kv: Deno.Kv, slug: string): Promise<number[]> {
  const state = await getWebhookState(kv, slug);
  if (state?.deliveries) return state.deliveries;
  const seen: number[] = [];
  for await (const s of allSubmissions(kv, slug)) {
    if (s.channel === "calcom") seen.push(Date.parse(s.received_at));
  }
  const times = mergeTimes([], seen);
  await withOccRetry("backfill delivery times", async () => {
    const entry = await kv.get<WebhookState>(clientWebhookStateKey(slug));
    if (entry.value?.deliveries) return { op: null, result: undefined };
    const next = {
      ...NO_STATE,
      ...entry.value,
      deliveries: mergeTimes(entry.value?.deliveries ?? [], times),
    };
    return { op: kv.atomic().check(entry).set(entry.key, next), result: undefined };
  });
  return times;
}

/** Both lists of times, one a minute at most, the newest DELIVERY_TIMES_KEPT, oldest first. */
function mergeTimes(a: readonly number[], b: readonly number[]): number[] {
  const byMinute = new Map<number, number>();
  for (const t of [...a, ...b]) {
    const minute = Math.floor(t / MINUTE);
    byMinute.set(minute, Math.min(byMinute.get(minute) ?? t, t));
  }
  return [...byMinute.values()].sort((x, y) => x - y).slice(-DELIVERY_TIMES_KEPT);
}

/** A write that rides along in a commit made anyway (the group commit of a delivery). */
export interface KvNote {
  key: Deno.KvKey;
  value: unknown;
}

/**
 * Remembers per process what was last written for each client, so a delivery writes the state only
 * when something changed (a new version header, a template appearing or going away, the first
 * delivery of a minute), and then as a note in the delivery's own commit (no commit of its own).
 * Known by client generation: a slug deleted and created again is a new client, read afresh.
 * Instances each write what they know: one may overwrite another's newest delivery times, which
 * only makes the usual gap read longer (the silence alarm later), never a delivery lost.
 */
export class WebhookStateRecorder {
  #known = new Map<string, WebhookState>();

  constructor(private readonly kv: Deno.Kv) {}

  /** What to write for this delivery, or null when nothing changed. */
  async note(
    client: { slug: string; generation: string | null },
    seen: {
      version: string | null;
      at: string;
      template: { submission_id: string | null; message: string } | null;
      /** A signed delivery (not a ping): it counts for the silence rule. */
      delivery: boolean;
    },
  ): Promise<KvNote | null> {
    const { slug } = client;
    const cacheKey = `${slug}\u0000${client.generation}`;
    let known = this.#known.get(cacheKey);
    if (!known) {
      // What KV holds may be cached at once; what this delivery adds, only once it is committed.
      known = await this.#read(slug);
      this.#known.set(cacheKey, known);
    }
    const version = seen.version ?? known.webhook_version;
    const at = Date.parse(seen.at);
    const last = known.deliveries?.at(-1);
    const newMinute = seen.delivery &&
      (last === undefined || Math.floor(last / MINUTE) < Math.floor(at / MINUTE));
    const next: WebhookState = {
      webhook_version: version,
      webhook_version_seen_at: version !== known.webhook_version ? seen.at : known.webhook_version_seen_at,
      payload_template_detected: seen.template
        ? known.payload_template_detected ?? { at: seen.at, ...seen.template }
        : null,
      deliveries: newMinute ? mergeTimes(known.deliveries ?? [], [at]) : known.deliveries ?? [],
    };
    const changed = next.webhook_version !== known.webhook_version ||
      (next.payload_template_detected === null) !== (known.payload_template_detected === null) || newMinute;
    return changed ? { key: clientWebhookStateKey(slug), value: next } : null;
  }

  /** The note was committed: later deliveries start from it (a failed commit taught nothing). */
  learn(client: { slug: string; generation: string | null }, note: KvNote): void {
    this.#known.set(`${client.slug}\u0000${client.generation}`, note.value as WebhookState);
  }

  /** The stored state, its delivery times filled in first if it is older than they are. */
  async #read(slug: string): Promise<WebhookState> {
    const stored = await getWebhookState(this.kv, slug);
    if (!stored) return { ...NO_STATE, deliveries: [] };
    if (stored.deliveries) return stored;
    return { ...stored, deliveries: await deliveryTimes(this.kv, slug) };
  }
}

/** Writes a note on its own (where no commit carries it: a ping). */
export async function writeNote(kv: Deno.Kv, note: KvNote): Promise<void> {
  await kv.set(note.key, note.value);
}
