/**
 * The one place errors become JSON answers: `{"error": {"code": "...", "message": "..."}}`, as a
 * middleware. Unexpected errors are logged and become a 500 without internals.
 */
import { failActiveSpan } from "../trace.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Middleware } from "./context.ts";

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * Maps any thrown value to a JSON answer. An unexpected error says whether anything could have been
 * stored (only a request that writes can), and the request id its log line carries.
 */
export function errorResponse(error: unknown, request?: { method: string; id: string }): Response {
  if (error instanceof HttpError) {
    return json(
      error.status,
      { error: { code: error.code, message: error.message }, ...error.extra },
      error.headers,
    );
  }
  const reading = !request || request.method === "GET" || request.method === "HEAD";
  return json(500, {
    error: {
      code: "internal_error",
      message: `Something went wrong on our side${
        reading ? "" : " and nothing was stored"
      }. The error is logged${request ? ` with request id ${request.id}` : ""}; please try again.`,
    },
  });
}

export function mapErrors(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      return await next();
    } catch (error) {
      // A refusal before the body was read: let go of the body, so the connection is not left
      // waiting for it (it would hold up a graceful shutdown).
      if (ctx.req.body && !ctx.req.bodyUsed) ctx.req.body.cancel().catch(() => {});
      ctx.outcome = error instanceof HttpError ? error.code : "internal_error";
      if (!(error instanceof HttpError) || error.status >= 500) failActiveSpan(error);
      if (!(error instanceof HttpError)) {
        log.error("unhandled error", {
          request_id: ctx.requestId,
          path: ctx.path,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return errorResponse(error, { method: ctx.req.method, id: ctx.requestId });
    }
  };
}
