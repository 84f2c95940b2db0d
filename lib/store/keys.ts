/**
 * The whole Deno KV key layout, in one place.
 *
 * Collections are snake_case; secondary indexes are spelled `<collection>_by_<field>`.
 * Every key a module writes or reads is built by one of these functions, so the layout can be
 * read (and changed) here alone.
 */

export type Slug = string;

/** `["clients", slug]` → Client (no secrets). */
export const clientKey = (slug: Slug) => ["clients", slug] as const;
export const clientsPrefix = () => ["clients"] as const;

/** `["client_secrets", slug, secretId]` → ClientSecret. Kept apart so client reads never carry secrets. */
export const clientSecretKey = (slug: Slug, secretId: string) => ["client_secrets", slug, secretId] as const;
export const clientSecretsPrefix = (slug: Slug) => ["client_secrets", slug] as const;

/**
 * `["client_generations", slug]` → ClientGeneration: rewritten when a client is created and when
 * it is deleted (a tombstone), never otherwise. Every intake commit checks it, so a delivery
 * accepted for a client that is deleted meanwhile is refused instead of coming back.
 */
export const clientGenerationKey = (slug: Slug) => ["client_generations", slug] as const;

/** `["client_pings", slug]` → the last Cal.com "Ping test" seen for a client. */
export const clientPingKey = (slug: Slug) => ["client_pings", slug] as const;

/** `["client_api_keys", slug]` → the client's Cal.com API key (write-only: never in an answer or a log). */
export const clientApiKeyKey = (slug: Slug) => ["client_api_keys", slug] as const;

/**
 * `["client_webhook_state", slug]` → what deliveries told about the client's Cal.com webhook: the
 * last `X-Cal-Webhook-Version`, and whether it has a payload template.
 */
export const clientWebhookStateKey = (slug: Slug) => ["client_webhook_state", slug] as const;

/**
 * `["client_calcom_webhooks", slug]` → the client's webhook in Cal.com as connect and check last
 * found it: its id, its state (ok, missing, inactive, …) and what each problem needs.
 */
export const clientCalcomWebhookKey = (slug: Slug) => ["client_calcom_webhooks", slug] as const;

/** `["client_reconcile", slug]` → the client's reconciliation checkpoint, lease, last pass and API key state. */
export const clientReconcileKey = (slug: Slug) => ["client_reconcile", slug] as const;

/**
 * `["reconcile_due", dueAtMs, slug]` → null: when each client with an API key is next due for a
 * reconciliation pass (one entry per client), so the minute's tick reads only what is due.
 */
export const reconcileDueKey = (dueAtMs: number, slug: Slug) => ["reconcile_due", dueAtMs, slug] as const;
export const reconcileDuePrefix = () => ["reconcile_due"] as const;
/** `["reconcile_due_built"]`: set once every client with a key has its entry (deployments older than the index). */
export const reconcileDueBuiltKey = () => ["reconcile_due_built"] as const;

/** `["missed_webhooks", slug, bookingUid]` → a booking the API showed that no webhook ever named. */
export const missedWebhookKey = (slug: Slug, uid: string) => ["missed_webhooks", slug, uid] as const;
export const missedWebhooksPrefix = (slug: Slug) => ["missed_webhooks", slug] as const;

/**
 * `["reconcile_follow_ups", slug, bookingUid]` → a booking to read from the API by uid on the next
 * passes (a recurring cancellation: only the API names the other occurrences).
 */
export const followUpKey = (slug: Slug, uid: string) => ["reconcile_follow_ups", slug, uid] as const;
export const followUpsPrefix = (slug: Slug) => ["reconcile_follow_ups", slug] as const;

/**
 * `["client_counts", slug, what, status]` → KvU64: the client's Jobs and submissions by status and
 * its Contacts (`what` "jobs", "submissions", "contacts"), summed in the very commits that change
 * them, so an overview reads one small listing whatever the client's size.
 * The client record's `counts_built` says they cover all of its data (a client older than the
 * counts is counted once by a scan).
 */
export const clientCountKey = (slug: Slug, what: string, status: string) =>
  ["client_counts", slug, what, status] as const;
export const clientCountsPrefix = (slug: Slug) => ["client_counts", slug] as const;

/** Single-entry records of a client, deleted with it. */
export const perClientKeys = (slug: Slug) =>
  [
    clientPingKey(slug),
    clientApiKeyKey(slug),
    clientWebhookStateKey(slug),
    clientReconcileKey(slug),
    clientCalcomWebhookKey(slug),
    changeHeadKey(slug),
    changeLogStateKey(slug),
  ] as const;

/**
 * `["submissions", slug, submissionId]` → Submission (its raw body is in chunk keys). The id is
 * derived from the body (`submissionIdFor`), so this key is also the dedupe key.
 */
export const submissionKey = (slug: Slug, id: string) => ["submissions", slug, id] as const;
export const submissionsPrefix = (slug: Slug) => ["submissions", slug] as const;

/**
 * `["submission_body_chunks", slug, submissionId, n]` → bytes: the raw body, written once beside its
 * record (one chunk, or many for a large body), so rewriting the record never rewrites the body.
 */
export const submissionBodyChunkKey = (slug: Slug, id: string, n: number) =>
  ["submission_body_chunks", slug, id, n] as const;
export const submissionBodyChunksPrefix = (slug: Slug) => ["submission_body_chunks", slug] as const;

/** `["submissions_by_body_sha256", slug, sha]`: dedupe keys of an earlier layout, only ever deleted now. */
export const legacySubmissionsByShaPrefix = (slug: Slug) => ["submissions_by_body_sha256", slug] as const;

/** `["pending_batches", batchId]` → PendingBatch: accepted submissions not yet settled. */
export const pendingBatchKey = (batchId: string) => ["pending_batches", batchId] as const;
export const pendingBatchesPrefix = () => ["pending_batches"] as const;

/** `["dead_letters", batchId]` → the queue message that exhausted its retries. */
export const deadLetterKey = (batchId: string) => ["dead_letters", batchId] as const;
export const deadLettersPrefix = () => ["dead_letters"] as const;

/** `["jobs", slug, jobId]` → Job. */
export const jobKey = (slug: Slug, id: string) => ["jobs", slug, id] as const;
export const jobsPrefix = (slug: Slug) => ["jobs", slug] as const;

/**
 * `["job_parts", slug, jobId, n]` → UTF-8 JSON bytes: a Job too large for one value (hundreds of
 * attendees or seats) is stored as a small stub under `jobKey` plus these parts.
 */
export const jobPartKey = (slug: Slug, id: string, n: number) => ["job_parts", slug, id, n] as const;
export const jobPartsPrefix = (slug: Slug) => ["job_parts", slug] as const;

/** `["jobs_by_event_id", slug, bookingUid]` → job id, for the current and every previous booking uid. */
export const jobByEventIdKey = (slug: Slug, uid: string) => ["jobs_by_event_id", slug, uid] as const;
export const jobsByEventIdPrefix = (slug: Slug) => ["jobs_by_event_id", slug] as const;

/** `["job_redirects", slug, jobId]` → job id a merged-away Job now lives under. */
export const jobRedirectKey = (slug: Slug, id: string) => ["job_redirects", slug, id] as const;
export const jobRedirectsPrefix = (slug: Slug) => ["job_redirects", slug] as const;

/** `["contacts", slug, contactId]` → Contact. */
export const contactKey = (slug: Slug, id: string) => ["contacts", slug, id] as const;
export const contactsPrefix = (slug: Slug) => ["contacts", slug] as const;

/** `["contacts_by_email", slug, normalisedEmail]` → contact id. */
export const contactByEmailKey = (slug: Slug, email: string) => ["contacts_by_email", slug, email] as const;
export const contactsByEmailPrefix = (slug: Slug) => ["contacts_by_email", slug] as const;

/**
 * `["changes", slug, versionstamp]` → `{committed_at, entries}`: the client's change log, one key per
 * commit that changed its Jobs (the versionstamp is the commit's, so `list` returns commit order).
 */
export const changeLogKey = (slug: Slug, versionstamp: string | symbol) =>
  ["changes", slug, versionstamp] as const;
export const changeLogPrefix = (slug: Slug) => ["changes", slug] as const;

/**
 * `["change_heads", slug]` → `{committed_at, entries}` of the last commit that appended to the log
 * (its versionstamp is that commit's): what long-polls watch, and how the minute's outbound tick
 * tells a caught-up endpoint without reading its log.
 */
export const changeHeadKey = (slug: Slug) => ["change_heads", slug] as const;

/** `["change_log_state", slug]` → how far retention has trimmed the log (older cursors answer 410). */
export const changeLogStateKey = (slug: Slug) => ["change_log_state", slug] as const;

/** The change log's collections (what the bench counts as its cost). */
export const changeLogCollections = () => ["changes", "change_heads"] as const;

/** Outbound delivery's collections (likewise). */
export const outboundCollections = () => ["endpoints", "endpoint_leases", "endpoint_attempts"] as const;

/** `["feed_secret"]` → the key feed cursors are signed with (made once, on first use). */
export const feedSecretKey = () => ["feed_secret"] as const;

/** `["client_tokens", slug, tokenId]` → a client token's record (its hash, never the token). */
export const clientTokenKey = (slug: Slug, id: string) => ["client_tokens", slug, id] as const;
export const clientTokensPrefix = (slug: Slug) => ["client_tokens", slug] as const;

/** `["client_tokens_by_hash", sha256]` → `{slug, id}`: finds a presented token's record. */
export const clientTokenByHashKey = (hash: string) => ["client_tokens_by_hash", hash] as const;

/**
 * `["write_backs", slug, sha256(Idempotency-Key)]` → one write-back request: the body's hash, its
 * state (started with a lease, or done with its answer), kept a few days so a retry answers the same.
 */
export const writeBackKey = (slug: Slug, keyHash: string) => ["write_backs", slug, keyHash] as const;
export const writeBacksPrefix = (slug: Slug) => ["write_backs", slug] as const;

/** `["portal_links", slug, linkId]` → a portal link (its key's hash, never the key), used or not. */
export const portalLinkKey = (slug: Slug, id: string) => ["portal_links", slug, id] as const;
export const portalLinksPrefix = (slug: Slug) => ["portal_links", slug] as const;
/** `["portal_links_by_hash", sha256]` → `{slug, id}`: finds the link a presented key opens. */
export const portalLinkByHashKey = (hash: string) => ["portal_links_by_hash", hash] as const;

/** `["portal_sessions", slug, sessionId]` → a portal session (its token's hash, never the token). */
export const portalSessionKey = (slug: Slug, id: string) => ["portal_sessions", slug, id] as const;
export const portalSessionsPrefix = (slug: Slug) => ["portal_sessions", slug] as const;
/** `["portal_sessions_by_hash", sha256]` → `{slug, id}`: finds a presented session token's record. */
export const portalSessionByHashKey = (hash: string) => ["portal_sessions_by_hash", hash] as const;

/** `["portal_audit", slug, ulid]` → one audited portal event (a link made, opened, refused; sessions ended). */
export const portalAuditKey = (slug: Slug, id: string) => ["portal_audit", slug, id] as const;
export const portalAuditPrefix = (slug: Slug) => ["portal_audit", slug] as const;

/** `["endpoints", slug, endpointId]` → an outbound webhook endpoint with its position in the client's log. */
export const endpointKey = (slug: Slug, id: string) => ["endpoints", slug, id] as const;
export const endpointsPrefix = (slug: Slug) => ["endpoints", slug] as const;
export const allEndpointsPrefix = () => ["endpoints"] as const;

/** `["endpoint_leases", slug, endpointId]` → who delivers to the endpoint now (one deliverer at a time). */
export const endpointLeaseKey = (slug: Slug, id: string) => ["endpoint_leases", slug, id] as const;
export const endpointLeasesPrefix = (slug: Slug) => ["endpoint_leases", slug] as const;

/** `["endpoint_attempts", slug, endpointId, attemptId]` → one delivery attempt (kept OUTBOUND_LOG_RETENTION_DAYS). */
export const endpointAttemptKey = (slug: Slug, endpointId: string, attemptId: string) =>
  ["endpoint_attempts", slug, endpointId, attemptId] as const;
export const endpointAttemptsPrefix = (slug: Slug, endpointId: string) =>
  ["endpoint_attempts", slug, endpointId] as const;
export const clientAttemptsPrefix = (slug: Slug) => ["endpoint_attempts", slug] as const;

/** `["retention_runs"]` → when the last retention pass started (ms), so instances share one a day. */
export const retentionRunKey = () => ["retention_runs"] as const;

/**
 * Whole per-client collections (every client's entries), for the Clients list: one listing per
 * collection costs far less than a read per client.
 */
export const wholeCollection = (
  name:
    | "client_secrets"
    | "client_api_keys"
    | "client_reconcile"
    | "client_webhook_state"
    | "client_pings"
    | "client_calcom_webhooks"
    | "client_counts"
    | "change_heads",
) => [name] as const;

/** `["healthz"]`: never written; reading it proves KV answers. */
export const healthKey = () => ["healthz"] as const;

/** Every per-client collection, for deleting a client with its data. */
export const perClientPrefixes = (slug: Slug) =>
  [
    clientSecretsPrefix(slug),
    submissionsPrefix(slug),
    submissionBodyChunksPrefix(slug),
    legacySubmissionsByShaPrefix(slug),
    jobsPrefix(slug),
    jobPartsPrefix(slug),
    jobsByEventIdPrefix(slug),
    jobRedirectsPrefix(slug),
    contactsPrefix(slug),
    contactsByEmailPrefix(slug),
    missedWebhooksPrefix(slug),
    followUpsPrefix(slug),
    changeLogPrefix(slug),
    clientTokensPrefix(slug),
    portalLinksPrefix(slug),
    portalSessionsPrefix(slug),
    portalAuditPrefix(slug),
    writeBacksPrefix(slug),
    endpointsPrefix(slug),
    endpointLeasesPrefix(slug),
    clientAttemptsPrefix(slug),
    clientCountsPrefix(slug),
  ] as const;
