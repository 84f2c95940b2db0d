/**
 * The service's one error type: a status, a stable code and a message a person can act on. The
 * admin operations and the HTTP routes throw it; `http/errors.ts` turns it into a JSON answer in
 * one place, and the CLI prints its message.
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
