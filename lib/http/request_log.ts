/**
 * One JSON log line per request, and its `X-Request-Id` echoed on the answer. The outermost
 * middleware, so it sees the status the error mapping chose.
 */
import type { Logger } from "../log.ts";
import type { Middleware } from "./context.ts";

export function requestLog(log: Logger): Middleware {
  return async (ctx, next) => {
    const response = await next();
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
