/**
 * One JSON log line per request, its `X-Request-Id` echoed on the answer and on every line logged
 * while it is handled (`withRequestId`); and the webhook
 * request counter. Outermost middleware, so they see the status the error mapping chose.
 */
import { PING_TRIGGER, triggerRule } from "../calcom/triggers.ts";
import { type Logger, withRequestId } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Middleware } from "./context.ts";

export function requestLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const response = await withRequestId(ctx.requestId, next);
    response.headers.set("x-request-id", ctx.requestId);
    log.info("request", {
      request_id: ctx.requestId,
      method: ctx.req.method,
      path: ctx.path,
      slug: ctx.slug,
      trigger: ctx.trigger,
      status: response.status,
      ms: Math.round((performance.now() - ctx.started) * 100) / 100,
      ...(ctx.submissionId ? { submission_id: ctx.submissionId } : {}),
    });
    return response;
  };
}

/** Counts webhook deliveries by client, trigger and outcome (labels only from a bounded set). */
export function requestMetrics(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const response = await next();
    if (ctx.path?.startsWith("/webhooks/")) {
      const trigger = ctx.trigger === null
        ? "none"
        : ctx.trigger === PING_TRIGGER || triggerRule(ctx.trigger)
        ? ctx.trigger
        : "other";
      metrics.requests.inc({
        client: ctx.client ?? "unknown",
        trigger,
        outcome: ctx.outcome ?? String(response.status),
      });
    }
    return response;
  };
}
