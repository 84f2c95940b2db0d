/**
 * The one HTTP error type and the one place errors become JSON answers:
 * `{"error": {"code": "...", "message": "..."}}`. Messages say what to do about it.
 */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** Maps any thrown value to a JSON answer; unexpected errors become a 500 without internals. */
export function errorResponse(error: unknown): Response {
  if (error instanceof HttpError) {
    return json(
      error.status,
      { error: { code: error.code, message: error.message }, ...error.extra },
      error.headers,
    );
  }
  return json(500, {
    error: {
      code: "internal_error",
      message:
        "Something went wrong on our side and nothing was stored. The error is logged; please try again.",
    },
  });
}
