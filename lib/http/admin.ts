/**
 * The admin API (`/admin/...`, `Authorization: Bearer $ADMIN_TOKEN`): clients and their secrets,
 * read access to Jobs, Contacts and Submissions, and replay. No answer ever carries a secret
 * except the one a call has just created.
 */
import { timingSafeEqual } from "node:crypto";
import { contactView } from "../domain/contact.ts";
import { jobView } from "../domain/job.ts";
import { SUBMISSION_STATUSES, type SubmissionStatus, submissionView } from "../domain/submission.ts";
import { getContact, getJob, getJobByEventId, listContacts, listJobs } from "../store/bookings.ts";
import {
  addSecret,
  type Client,
  deleteClient,
  getClient,
  getLastPing,
  listClients,
  listSecretIds,
  putClient,
  removeSecret,
  type SigningKeyCache,
  SLUG_PATTERN,
} from "../store/clients.ts";
import { getSubmission, listDeadLetters, listSubmissions } from "../store/submissions.ts";
import type { Replayer } from "../processing/replay.ts";
import { HttpError, json } from "./errors.ts";
import type { Params, Router } from "./router.ts";

export interface AdminDeps {
  kv: Deno.Kv;
  /** Told about every secret or client change made here, so webhooks see it at once. */
  keys: SigningKeyCache;
  adminToken: string | null;
  replayer: Replayer;
}

const MAX_ADMIN_BODY = 64 * 1024;

export function registerAdminRoutes(router: Router, deps: AdminDeps): void {
  const { kv } = deps;
  const guard = adminGuard(deps.adminToken);
  const route = (
    method: string,
    path: string,
    handler: (req: Request, params: Params, url: URL) => Promise<Response>,
  ) => router.on(method, path, async (req, params, url) => (await guard(req), handler(req, params, url)));

  route("GET", "/admin/clients", async () => {
    const clients = await listClients(kv);
    return json(200, { items: await Promise.all(clients.map((c) => clientView(kv, c))), cursor: null });
  });

  route("PUT", "/admin/clients/:slug", async (req, params) => {
    const slug = validSlug(params.slug);
    const body = await readJsonObject(req);
    const name = optionalString(body, "name", 200);
    const secret = optionalString(body, "secret", 500);
    if (secret !== undefined && secret !== null && secret.length < 16) {
      throw new HttpError(
        400,
        "weak_secret",
        "A secret must be at least 16 characters; omit it to get a generated one.",
      );
    }
    const result = await putClient(kv, slug, { name, secret });
    deps.keys.invalidate(slug);
    const answer: Record<string, unknown> = {
      client: await clientView(kv, result.client),
      created: result.created,
    };
    if (result.secret && (result.created || secret)) {
      answer.secret = { id: result.secret.id, secret: result.secret.secret };
    }
    return json(result.created ? 201 : 200, answer);
  });

  route("GET", "/admin/clients/:slug", async (_req, params) => {
    return json(200, await clientView(kv, await requireClient(kv, params.slug)));
  });

  route("DELETE", "/admin/clients/:slug", async (_req, params) => {
    const slug = validSlug(params.slug);
    const deleted = await deleteClient(kv, slug);
    deps.keys.invalidate(slug);
    if (!deleted) throw noClient(slug);
    return json(200, { deleted: slug });
  });

  route("POST", "/admin/clients/:slug/secrets", async (req, params) => {
    const slug = validSlug(params.slug);
    const body = await readJsonObject(req);
    const given = optionalString(body, "secret", 500) ?? undefined;
    const secret = await addSecret(kv, slug, given);
    deps.keys.invalidate(slug);
    if (!secret) throw noClient(slug);
    return json(201, { secret: { id: secret.id, secret: secret.secret, created_at: secret.created_at } });
  });

  route("DELETE", "/admin/clients/:slug/secrets/:secretId", async (_req, params) => {
    const slug = validSlug(params.slug);
    const result = await removeSecret(kv, slug, params.secretId ?? "");
    deps.keys.invalidate(slug);
    if (result === "no_client") throw noClient(slug);
    if (result === "no_secret") {
      throw new HttpError(404, "unknown_secret", `Client "${slug}" has no secret with that id.`);
    }
    if (result === "last_secret") {
      throw new HttpError(
        409,
        "last_secret",
        "This is the client's only secret; add the new one first (POST .../secrets), then retire this one.",
      );
    }
    return json(200, { removed: params.secretId });
  });

  route("GET", "/admin/clients/:slug/jobs", async (_req, params, url) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const eventId = url.searchParams.get("calcom_event_id");
    if (eventId !== null) {
      // Any booking uid of the Job (current or previous) finds it.
      const job = await getJobByEventId(kv, slug, eventId);
      return json(200, { items: job ? [jobView(job)] : [], cursor: null });
    }
    return json(200, await listJobs(kv, slug, { ...pageParams(url), view: jobView }));
  });
  route("GET", "/admin/clients/:slug/jobs/:id", async (_req, params) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const job = await getJob(kv, slug, params.id ?? "");
    if (!job) throw new HttpError(404, "unknown_job", `Client "${slug}" has no job ${params.id}.`);
    return json(200, jobView(job));
  });

  route("GET", "/admin/clients/:slug/contacts", async (_req, params, url) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    return json(200, await listContacts(kv, slug, { ...pageParams(url), view: contactView }));
  });
  route("GET", "/admin/clients/:slug/contacts/:id", async (_req, params) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const contact = await getContact(kv, slug, params.id ?? "");
    if (!contact) {
      throw new HttpError(404, "unknown_contact", `Client "${slug}" has no contact ${params.id}.`);
    }
    return json(200, contactView(contact));
  });

  route("GET", "/admin/clients/:slug/submissions", async (_req, params, url) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const status = statusParam(url);
    return json(
      200,
      await listSubmissions(kv, slug, {
        ...pageParams(url),
        status: status ?? undefined,
        view: submissionView,
      }),
    );
  });
  route("GET", "/admin/clients/:slug/submissions/:id", async (_req, params) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const submission = await getSubmission(kv, slug, params.id ?? "");
    if (!submission) throw noSubmission(slug, params.id);
    return json(200, submissionView(submission));
  });

  route("POST", "/admin/clients/:slug/submissions/:id/replay", async (_req, params) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const submission = await deps.replayer.replayOne(slug, params.id ?? "");
    if (!submission) throw noSubmission(slug, params.id);
    return json(200, submissionView(submission));
  });
  route("POST", "/admin/clients/:slug/replay", async (_req, params, url) => {
    const slug = (await requireClient(kv, params.slug)).slug;
    const status = statusParam(url);
    if (!status) {
      throw new HttpError(400, "missing_status", "Say which submissions to replay, e.g. ?status=failed.");
    }
    return json(200, await deps.replayer.replayAll(slug, status));
  });

  route("GET", "/admin/dead_letters", async () => {
    const items = (await listDeadLetters(kv)).map((e) => e.value);
    return json(200, { items, cursor: null });
  });
}

async function clientView(kv: Deno.Kv, client: Client) {
  return {
    ...client,
    webhook_path: `/webhooks/calcom/${client.slug}`,
    secret_ids: (await listSecretIds(kv, client.slug)).map((s) => s.id),
    last_ping: await getLastPing(kv, client.slug),
  };
}

function adminGuard(token: string | null): (req: Request) => Promise<void> {
  const expected = token ? digest(token) : null;
  return async (req) => {
    if (!expected) {
      throw new HttpError(
        503,
        "admin_disabled",
        "The admin API is disabled. Set the ADMIN_TOKEN environment variable and restart the service to enable it.",
      );
    }
    const header = req.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = await digest(match?.[1] ?? "");
    if (!match || !timingSafeEqual(given, await expected)) {
      throw new HttpError(
        401,
        "unauthorized",
        "Send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>'.",
        {
          "www-authenticate": "Bearer",
        },
      );
    }
  };
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function validSlug(slug: string | undefined): string {
  if (!slug || !SLUG_PATTERN.test(slug)) {
    throw new HttpError(
      400,
      "invalid_slug",
      "A client slug is 1–63 characters of lowercase letters, digits and '-', starting with a letter or digit.",
    );
  }
  return slug;
}

async function requireClient(kv: Deno.Kv, slug: string | undefined): Promise<Client> {
  const valid = validSlug(slug);
  const client = await getClient(kv, valid);
  if (!client) throw noClient(valid);
  return client;
}

function noClient(slug: string): HttpError {
  return new HttpError(
    404,
    "unknown_client",
    `There is no client "${slug}". Create it with PUT /admin/clients/${slug}.`,
  );
}

function noSubmission(slug: string, id: string | undefined): HttpError {
  return new HttpError(404, "unknown_submission", `Client "${slug}" has no submission ${id}.`);
}

function pageParams(url: URL): { limit: number; cursor?: string } {
  const raw = url.searchParams.get("limit");
  const limit = raw === null ? 50 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new HttpError(400, "invalid_limit", "limit must be a whole number from 1 to 500.");
  }
  return { limit, cursor: url.searchParams.get("cursor") ?? undefined };
}

function statusParam(url: URL): SubmissionStatus | null {
  const status = url.searchParams.get("status");
  if (status === null) return null;
  if (!(SUBMISSION_STATUSES as readonly string[]).includes(status)) {
    throw new HttpError(400, "invalid_status", `status must be one of ${SUBMISSION_STATUSES.join(", ")}.`);
  }
  return status as SubmissionStatus;
}

/** The body as a JSON object; an empty body counts as `{}`. */
async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.length > MAX_ADMIN_BODY) {
    throw new HttpError(413, "body_too_large", "The request body is too large.");
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", 'The body must be a JSON object, e.g. {"name": "Acme"}.');
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "invalid_json", 'The body must be a JSON object, e.g. {"name": "Acme"}.');
  }
  return value as Record<string, unknown>;
}

function optionalString(
  body: Record<string, unknown>,
  field: string,
  max: number,
): string | null | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "string" || value.length > max || value.trim() === "") {
    throw new HttpError(
      400,
      `invalid_${field}`,
      `"${field}" must be a non-empty string of at most ${max} characters.`,
    );
  }
  return value;
}
