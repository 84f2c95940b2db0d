/**
 * Outbound endpoints, as the client's own systems manage them (with an `endpoints:write` token)
 * and as the operator does (the same functions under `/admin/…`): create, list, edit, delete,
 * rotate the secret, recover since a time, read the attempt log, resend one event. The rules of
 * each change are the domain's (`domain/outbound.ts`); a secret is answered only by the call that
 * made it.
 */
import { CHANGE_ID_PATTERN } from "../domain/changes.ts";
import { newId } from "../domain/ids.ts";
import {
  currentSecret,
  editedEndpoint,
  forbiddenHost,
  newEndpointRecord,
  recoveredEndpoint,
  rotatedEndpoint,
  testEntry,
} from "../domain/outbound.ts";
import { HttpError } from "../errors.ts";
import { findEntry, logEnd, positionBefore } from "../store/changes.ts";
import {
  createEndpoint,
  deleteEndpoint,
  type Endpoint,
  endpointBacklog,
  getEndpoint,
  listAttempts,
  listEndpoints,
  updateEndpoint,
} from "../store/endpoints.ts";
import { nowIso } from "../time.ts";
import type { OpsContext } from "./context.ts";
import type { Outbound } from "../processing/outbound.ts";
import {
  listing,
  noClient,
  optionalEndpointState,
  optionalEventTypes,
  optionalString,
  pageOf,
  validEndpointUrl,
  validId,
  validSince,
} from "./inputs.ts";
import type { OpInput } from "./operation.ts";
import { byWhom } from "./tokens.ts";
import type { EndpointAnswer } from "./schemas.ts";

const MAX_DESCRIPTION = 500;

function noEndpoint(slug: string, id: string): HttpError {
  return new HttpError(404, "unknown_endpoint", `Client "${slug}" has no endpoint ${id}.`);
}

/** A new endpoint: it gets every change committed from now on (its secret is answered once). */
export async function createEndpointOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const url = validEndpointUrl(input.url, ctx.deps.outboundAllowPrivate ?? false, forbiddenHost);
  const endpoint: Endpoint = newEndpointRecord({
    id: newId(),
    client: client.slug,
    url,
    event_types: optionalEventTypes(input.event_types) ?? null,
    description: optionalString(input.description, "description", MAX_DESCRIPTION) ?? null,
    position: await logEnd(ctx.kv, client.slug),
  }, nowIso());
  if (!(await createEndpoint(ctx.kv, endpoint))) throw noClient(client.slug);
  ctx.deps.outbound?.noteEndpoints(client.slug);
  ctx.audit("endpoint.create", { slug: client.slug, endpoint_id: endpoint.id, url });
  return { ...(await endpointView(ctx, endpoint)), secret: currentSecret(endpoint) };
}

export async function listEndpointsOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const endpoints = await listEndpoints(ctx.kv, client.slug);
  return { items: await Promise.all(endpoints.map((e) => endpointView(ctx, e))), cursor: null };
}

export async function getEndpointOp(ctx: OpsContext, input: OpInput) {
  return await endpointView(ctx, await findEndpoint(ctx, input));
}

/** An endpoint's signing secrets, for whoever may see them (a receiver set up again, say). */
export async function endpointSecretOp(ctx: OpsContext, input: OpInput) {
  const endpoint = await findEndpoint(ctx, input);
  ctx.audit("endpoint.secret_read", {
    slug: endpoint.client,
    endpoint_id: endpoint.id,
    ...byWhom(input.caller),
  });
  return {
    secret: currentSecret(endpoint),
    secrets: endpoint.secrets.map((s) => ({
      secret: s.secret,
      created_at: s.created_at,
      expires_at: s.expires_at,
    })),
  };
}

/** Changes an endpoint's url, event types, description or state (`editedEndpoint` says how). */
export async function updateEndpointOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  const change = {
    url: input.url === undefined
      ? undefined
      : validEndpointUrl(input.url, ctx.deps.outboundAllowPrivate ?? false, forbiddenHost),
    event_types: optionalEventTypes(input.event_types),
    description: optionalString(input.description, "description", MAX_DESCRIPTION),
    state: optionalEndpointState(input.state),
  };
  const updated = await updateEndpoint(
    ctx.kv,
    current.client,
    current.id,
    (e) => editedEndpoint(e, change, nowIso()),
  );
  if (!updated) throw noEndpoint(current.client, current.id);
  ctx.audit("endpoint.update", { slug: current.client, endpoint_id: current.id, state: updated.state });
  if (updated.state === "active") ctx.deps.outbound?.kick(current.client);
  return await endpointView(ctx, updated);
}

export async function deleteEndpointOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  await deleteEndpoint(ctx.kv, current.client, current.id);
  ctx.audit("endpoint.delete", { slug: current.client, endpoint_id: current.id });
  return { deleted: current.id };
}

/** A new secret (answered once); the old one keeps signing beside it for 24 hours. */
export async function rotateEndpointSecretOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  const updated = await updateEndpoint(
    ctx.kv,
    current.client,
    current.id,
    (e) => rotatedEndpoint(e, Date.now()),
  );
  if (!updated) throw noEndpoint(current.client, current.id);
  ctx.audit("endpoint.rotate_secret", { slug: current.client, endpoint_id: current.id });
  return { ...(await endpointView(ctx, updated)), secret: currentSecret(updated) };
}

/** Delivers again everything committed since `since` (and enables the endpoint). */
export async function recoverEndpointOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  const since = validSince(input.since);
  const position = await positionBefore(ctx.kv, current.client, since);
  const updated = await updateEndpoint(
    ctx.kv,
    current.client,
    current.id,
    (e) => recoveredEndpoint(e, position, nowIso()),
  );
  if (!updated) throw noEndpoint(current.client, current.id);
  ctx.audit("endpoint.recover", { slug: current.client, endpoint_id: current.id, since });
  ctx.deps.outbound?.kick(current.client);
  return { ...(await endpointView(ctx, updated)), recovering_since: since };
}

export async function endpointAttemptsOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  return await listing(() =>
    listAttempts(
      ctx.kv,
      current.client,
      current.id,
      pageOf(input),
      ctx.deps.attemptRetentionMs ?? 14 * 86_400_000,
    )
  );
}

/** Sends one change-log entry to the endpoint again now; answers the attempt. */
export async function resendToEndpointOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  const eventId = input.eventId;
  if (typeof eventId !== "string" || !CHANGE_ID_PATTERN.test(eventId)) {
    throw new HttpError(
      400,
      "invalid_event_id",
      "That is not an event id: they look like chg_ and 32 hex digits.",
    );
  }
  const entry = await findEntry(ctx.kv, current.client, eventId);
  if (!entry) {
    throw new HttpError(
      404,
      "unknown_event",
      `Client "${current.client}" has no event ${eventId} (or it is past retention).`,
    );
  }
  const attempt = await outboundOf(ctx).resend(current, entry);
  ctx.audit("endpoint.resend", { slug: current.client, endpoint_id: current.id, event_id: eventId });
  return attempt;
}

/**
 * Sends a test event of `type` (default job.created) to the endpoint now: made-up data, `"test":
 * true` in the body, a `test_…` webhook-id; recorded in its attempt log, never in the change log.
 */
export async function sendTestEventOp(ctx: OpsContext, input: OpInput) {
  const current = await findEndpoint(ctx, input);
  const [type] = optionalEventTypes(input.type === undefined ? undefined : [input.type]) ?? ["job.created"];
  const attempt = await outboundOf(ctx).sendTest(current, testEntry(current.client, type, Date.now()));
  ctx.audit("endpoint.test", { slug: current.client, endpoint_id: current.id, type });
  return attempt;
}

/** What sends now (a resend, a test event), or a 503 where nothing delivers (a CLI on a local KV). */
function outboundOf(ctx: OpsContext): Outbound {
  if (!ctx.deps.outbound) {
    throw new HttpError(503, "outbound_unavailable", "Outbound delivery is not available here.");
  }
  return ctx.deps.outbound;
}

async function findEndpoint(ctx: OpsContext, input: OpInput): Promise<Endpoint> {
  const client = await ctx.client(input.slug);
  const endpointId = validId(input.id, "endpoint");
  const endpoint = await getEndpoint(ctx.kv, client.slug, endpointId);
  if (!endpoint) throw noEndpoint(client.slug, endpointId);
  return endpoint;
}

/** An endpoint as answers show it: never a secret, its backlog, and how it is doing. */
async function endpointView(ctx: OpsContext, e: Endpoint): Promise<EndpointAnswer> {
  const { secrets, client: _client, position: _position, ...rest } = e;
  const backlog = await endpointBacklog(ctx.kv, e);
  return {
    ...rest,
    secrets: secrets.map((s) => ({ created_at: s.created_at, expires_at: s.expires_at })),
    backlog: backlog?.entries ?? 0,
    oldest_undelivered_at: backlog?.oldest_at ?? null,
  };
}
