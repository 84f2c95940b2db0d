/**
 * The change feed: a page of a client's change log after a cursor, oldest first, held open with
 * `wait` until something is committed; and the Job listing that hands out the log's end as a
 * cursor, so a consumer can copy everything and then follow the feed without a gap.
 */
import { inSpan } from "../trace.ts";
import {
  ExpiredFeedCursorError,
  InvalidFeedCursorError,
  logEnd,
  readLog,
  waitForChange,
} from "../store/changes.ts";
import type { OpsContext } from "./context.ts";
import { expiredFeedCursor, feedPage, invalidFeedCursor } from "./inputs.ts";
import type { OpInput } from "./operation.ts";
import { jobsOf } from "./records.ts";

/**
 * A page of the client's change log after `cursor`, oldest first; with `wait`, held until an
 * entry is committed (or `wait` seconds pass, or the caller goes away).
 */
export async function changesOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const { limit, waitSeconds } = feedPage(input);
  let after = null;
  if (input.cursor !== undefined && input.cursor !== "") {
    if (typeof input.cursor !== "string") throw invalidFeedCursor();
    after = await ctx.cursors.decode(client.slug, input.cursor).catch((error) => {
      throw error instanceof InvalidFeedCursorError ? invalidFeedCursor() : error;
    });
  }
  const read = () =>
    readLog(ctx.kv, client.slug, after, limit).catch((error) => {
      throw error instanceof ExpiredFeedCursorError
        ? expiredFeedCursor(ctx.deps.changeLogRetentionDays ?? 30)
        : error;
    });
  let page = await read();
  if (page.items.length === 0 && waitSeconds > 0) {
    // Only a waiting call reads the signal: reading it makes Deno watch the connection.
    const signal = input.signal ?? new AbortController().signal;
    page = await inSpan("feed.wait", {
      "calcom_intake.client": client.slug,
      "calcom_intake.wait_s": waitSeconds,
    }, async (span) => {
      await waitForChange(ctx.kv, client.slug, waitSeconds * 1000, signal);
      const next = signal.aborted ? page : await read();
      span.setAttribute("calcom_intake.entries", next.items.length);
      return next;
    });
  }
  return {
    items: page.items,
    next_cursor: await ctx.cursors.encode(client.slug, page.next),
    has_more: page.hasMore,
  };
}

/**
 * The client API's Job listing: the Jobs, and the change log's current end (`changes_cursor`),
 * read before the Jobs, so following the feed from it misses nothing.
 */
export async function clientJobsOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const end = await logEnd(ctx.kv, client.slug);
  const page = await jobsOf(ctx, client, input);
  return { ...page, changes_cursor: await ctx.cursors.encode(client.slug, end) };
}
