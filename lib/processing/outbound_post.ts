/**
 * One outbound attempt on the wire: the entry's body POSTed to an endpoint, signed with each of its
 * live secrets, never following a redirect, refusing an address it may not reach, giving up after
 * DELIVERY_TIMEOUT_MS and keeping the first KiB of the answer. What the attempt came to is for the
 * deliverer (`outbound.ts`) to record; nothing here touches KV.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { ChangeEntry } from "../domain/changes.ts";
import {
  DELIVERY_TIMEOUT_MS,
  deliveryBody,
  forbiddenAddress,
  recordedHeaders,
  signatures,
} from "../domain/outbound.ts";
import type { Endpoint } from "../store/endpoints.ts";
import { retryAfterMs } from "../time.ts";

/** What one attempt came to. */
export interface Outcome {
  ok: boolean;
  status: number | null;
  error: string | null;
  retryAfterMs: number | null;
  responseBody: string | null;
  durationMs: number;
  /** 410 Gone: the receiver asks to be disabled. */
  gone: boolean;
  /** What was sent (never the signature); null when nothing was. */
  requestHeaders: Record<string, string> | null;
}

/** One signed POST of `entry` to the endpoint (a test event's body says so). */
export async function postEntry(
  endpoint: Endpoint,
  entry: ChangeEntry,
  how: { client: Deno.HttpClient; allowPrivate: boolean; test: boolean },
): Promise<Outcome> {
  const started = performance.now();
  const failed = (error: string, extra: Partial<Outcome> = {}): Outcome => ({
    ok: false,
    status: null,
    error,
    retryAfterMs: null,
    responseBody: null,
    durationMs: performance.now() - started,
    gone: false,
    requestHeaders: null,
    ...extra,
  });
  const refusal = await destinationProblem(endpoint.url, how.allowPrivate);
  if (refusal) return failed(refusal);
  const body = deliveryBody(entry, how.test);
  const timestamp = Math.floor(Date.now() / 1000);
  const sent = recordedHeaders(entry.id, timestamp);
  const now = Date.now();
  const live = endpoint.secrets.filter((s) => !s.expires_at || Date.parse(s.expires_at) > now).map((s) =>
    s.secret
  );
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new DOMException("timed out", "TimeoutError")),
    DELIVERY_TIMEOUT_MS,
  );
  try {
    const res = await fetch(endpoint.url, {
      client: how.client,
      method: "POST",
      redirect: "manual",
      signal: timeout.signal,
      headers: { ...sent, "webhook-signature": signatures(live, entry.id, timestamp, body) },
      body,
    });
    const text = await readSome(res, 1024);
    const outcome = {
      status: res.status,
      requestHeaders: sent,
      responseBody: text,
      durationMs: performance.now() - started,
      retryAfterMs: retryAfterMs(res.headers.get("retry-after"), Date.now()),
      gone: res.status === 410,
    };
    if (res.status >= 200 && res.status < 300) return { ok: true, error: null, ...outcome };
    const error = res.status >= 300 && res.status < 400 ? "a redirect (not followed)" : `HTTP ${res.status}`;
    return { ok: false, error, ...outcome };
  } catch (error) {
    const message = error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`
      : error instanceof Error
      ? error.message
      : String(error);
    return failed(message, { requestHeaders: sent });
  } finally {
    clearTimeout(timer);
  }
}

/** The first `max` bytes of an answer's body, as text (the rest is not read). */
async function readSome(res: Response, max: number): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return new TextDecoder().decode(bytes.subarray(0, max)) || null;
}

/**
 * Why a delivery may not go to `url`, or null: only https, and never to loopback, private,
 * link-local or metadata addresses, checked on every address the name resolves to now (at send
 * time; redirects are not followed), unless OUTBOUND_ALLOW_PRIVATE.
 */
export async function destinationProblem(url: string, allowPrivate: boolean): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (allowPrivate) return parsed.protocol === "https:" || parsed.protocol === "http:" ? null : "not http(s)";
  if (parsed.protocol !== "https:") return "refused: only https:// URLs (OUTBOUND_ALLOW_PRIVATE allows http)";
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (error) {
      return `cannot resolve ${host} (${error instanceof Error ? error.message : error})`;
    }
  }
  for (const address of addresses) {
    const why = forbiddenAddress(address);
    if (why) return `refused: ${host} is ${why === "not an IP address" ? "not reachable" : why} (${address})`;
  }
  return null;
}
