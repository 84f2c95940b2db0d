/**
 * What every operation runs with: the KV store, the parts of the running service it may use
 * (replay, reconciliation, Cal.com connect, outbound delivery, the signing-key cache), who is
 * calling (for audit lines), and the few steps every operation shares (finding the client, writing
 * an audit line). One context per caller kind: the HTTP API, the CLI, the dashboard.
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { CalcomWebhooks } from "../processing/calcom_webhook.ts";
import type { Outbound } from "../processing/outbound.ts";
import type { Reconciler } from "../processing/reconciler.ts";
import type { Replayer } from "../processing/replay.ts";
import type { WriteBack } from "../processing/write_back.ts";
import { FeedCursors } from "../store/changes.ts";
import { type Client, getClient, type SigningKeyCache } from "../store/clients.ts";
import { noClient, validSlug } from "./inputs.ts";

/** Who makes a change, as audit lines say: the HTTP API, the CLI or the dashboard. */
export type AdminSource = "api" | "cli" | "dashboard";

export interface OpsDeps {
  kv: Deno.Kv;
  replayer: Replayer;
  /** Runs reconciliation passes (null where there is none to run, e.g. a CLI without network). */
  reconciler?: Reconciler | null;
  /** Connects clients' webhooks in Cal.com and checks them (null where there is none). */
  calcomWebhooks?: CalcomWebhooks | null;
  /** Where every change is recorded (one `audit` log line each; never a secret). */
  log?: Logger;
  /** Counters the dashboard shows (signature failures); null in the CLI. */
  metrics?: Metrics | null;
  /** Who makes the changes. */
  source?: AdminSource;
  /** The webhook route's cache of signing keys, told about every change at once (null in the CLI). */
  keys?: SigningKeyCache | null;
  /** PUBLIC_URL: the service's public base URL, for the webhook URLs answers show (null: unknown). */
  publicUrl?: string | null;
  /** CHANGE_LOG_RETENTION_DAYS, for what an expired cursor's answer says. */
  changeLogRetentionDays?: number;
  /** Delivers outbound webhooks (null where there is none, e.g. a CLI on a local KV). */
  outbound?: Outbound | null;
  outboundAllowPrivate?: boolean;
  /** Acts on Jobs in Cal.com (null where there is none, e.g. a CLI without network). */
  writeBack?: WriteBack | null;
  attemptRetentionMs?: number;
}

export class OpsContext {
  readonly kv: Deno.Kv;
  readonly cursors: FeedCursors;

  constructor(readonly deps: OpsDeps) {
    this.kv = deps.kv;
    this.cursors = new FeedCursors(deps.kv);
  }

  /** The client named by `slug`, or a 400 (not a slug) or 404 (no such client). */
  async client(slug: unknown): Promise<Client> {
    const valid = validSlug(slug);
    const client = await getClient(this.kv, valid);
    if (!client) throw noClient(valid);
    return client;
  }

  /** One audit line per change, from whichever adapter made it. */
  audit(action: string, fields: Record<string, unknown>): void {
    this.deps.log?.info("audit", { action, source: this.deps.source ?? "api", ...fields });
  }

  signatureFailures(slug: string): number {
    return this.deps.metrics?.signatureFailuresOf(slug) ?? 0;
  }
}
