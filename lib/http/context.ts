/**
 * One request's context, handed to every middleware and route: the request, its parsed URL, the
 * route's parameters, and what its log line will say. Routing never depends on the `Host` header:
 * a `Host` that could change the parsed path (path, query or other stray characters) is refused.
 */
import { HttpError } from "../errors.ts";

export type Params = Record<string, string | undefined>;
export type Handler = (ctx: RequestContext) => Response | Promise<Response>;
export type Middleware = (ctx: RequestContext, next: () => Promise<Response>) => Promise<Response>;

/** A hostname, IPv4 or bracketed IPv6 address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?$/;

/** Longest request id echoed from `X-Request-Id`; longer or odd ones are replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export class RequestContext {
  params: Params = {};
  /** Fields of this request's log line, set by the route that knows them (never secrets). */
  slug: string | null = null;
  trigger: string | null = null;
  submissionId: string | null = null;
  /** The slug once it is known to be a client's (metric labels never carry unknown slugs). */
  client: string | null = null;
  /** What became of the request, for metrics: an error code, or what the route did. */
  outcome: string | null = null;
  readonly requestId: string;
  readonly started = performance.now();
  #url: URL | null = null;

  /**
   * `remote`: the connection's address (null in-process). `trustedProxies`: proxies whose
   * `X-Forwarded-For` names the sender instead.
   */
  constructor(
    readonly req: Request,
    private readonly remote: string | null = null,
    private readonly trustedProxies: readonly string[] = [],
  ) {
    const given = req.headers.get("x-request-id");
    this.requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
  }

  /** The request URL; a 400 when it cannot be built or its `Host` would change its path. */
  get url(): URL {
    return this.#url ??= requestUrl(this.req);
  }

  /**
   * Who sent the request, for sharing the body budget fairly: the connection's address, or behind a
   * trusted proxy the nearest address in `X-Forwarded-For` that is not a trusted proxy.
   */
  get sender(): string {
    let sender = this.remote ?? "local";
    if (!this.trustedProxies.includes(sender)) return sender;
    const hops = (this.req.headers.get("x-forwarded-for") ?? "").split(",").map((h) => h.trim()).filter(
      Boolean,
    );
    while (hops.length > 0 && this.trustedProxies.includes(sender)) sender = hops.pop()!;
    return sender.slice(0, 64);
  }

  /** The path for the log line, or null when the URL is unusable. */
  get path(): string | null {
    try {
      return this.url.pathname;
    } catch {
      return null;
    }
  }
}

function requestUrl(req: Request): URL {
  const host = req.headers.get("host");
  const match = host === null ? null : HOST.exec(host);
  if (host !== null && (!match || (match[1] !== undefined && Number(match[1]) > 65535))) {
    throw new HttpError(
      400,
      "invalid_host",
      "The Host header is not a valid host name with an optional port.",
    );
  }
  try {
    return new URL(req.url);
  } catch {
    throw new HttpError(400, "invalid_url", "The request URL cannot be parsed.");
  }
}

/** Runs `handler` inside `middlewares`, the first outermost. */
export function compose(middlewares: readonly Middleware[], handler: Handler): Handler {
  return middlewares.reduceRight<Handler>(
    (next, middleware) => (ctx) => middleware(ctx, async () => await next(ctx)),
    handler,
  );
}
