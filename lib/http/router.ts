/**
 * A small `URLPattern` router: routes are matched on the path, then the method. A known path with
 * another method answers 405 with `Allow`; an unknown path answers a JSON 404.
 */
import { HttpError } from "../errors.ts";
import { nameRequestSpan } from "../trace.ts";
import type { Handler, Params, RequestContext } from "./context.ts";

interface Route {
  pattern: URLPattern;
  /** The pathname as registered (`/webhooks/calcom/:slug{/}?`): the span's route. */
  path: string;
  handlers: Map<string, Handler>;
}

/** Distinct paths whose match is remembered; URLPattern matching cost more than the rest of routing. */
const MATCH_CACHE_SIZE = 1024;

export class Router {
  #routes: Route[] = [];
  #matches = new Map<string, { route: Route; params: Params } | null>();

  on(method: string, pathname: string, handler: Handler): this {
    const pattern = new URLPattern({ pathname });
    let route = this.#routes.find((r) => r.pattern.pathname === pattern.pathname);
    if (!route) {
      route = { pattern, path: pathname, handlers: new Map() };
      this.#routes.push(route);
    }
    route.handlers.set(method, handler);
    this.#matches.clear();
    return this;
  }

  /** Runs the matching route; throws HttpError 404/405 when there is none. */
  dispatch(ctx: RequestContext): Response | Promise<Response> {
    const { pathname } = ctx.url;
    const match = this.#match(pathname);
    if (!match) throw new HttpError(404, "not_found", `Nothing is served at ${pathname}. Check the URL.`);
    const { route, params } = match;
    const method = ctx.req.method;
    const handler = route.handlers.get(method) ?? (method === "HEAD" ? route.handlers.get("GET") : undefined);
    if (!handler) {
      const allow = [...route.handlers.keys()].join(", ");
      throw new HttpError(405, "method_not_allowed", `${method} is not supported here; use ${allow}.`, {
        allow,
      });
    }
    ctx.params = { ...params };
    // The request's span is named by its route, never by the path (which names a client).
    nameRequestSpan(method, route.path);
    return handler(ctx);
  }

  #match(pathname: string): { route: Route; params: Params } | null {
    const cached = this.#matches.get(pathname);
    if (cached !== undefined) return cached;
    let found: { route: Route; params: Params } | null = null;
    for (const route of this.#routes) {
      const match = route.pattern.exec({ pathname });
      if (match) {
        found = { route, params: match.pathname.groups };
        break;
      }
    }
    if (this.#matches.size >= MATCH_CACHE_SIZE) this.#matches.clear();
    this.#matches.set(pathname, found);
    return found;
  }
}
