/**
 * A small `URLPattern` router: routes are matched on the path, then the method. A known path with
 * another method answers 405 with `Allow`; an unknown path answers a JSON 404.
 */
import { HttpError } from "./errors.ts";

export type Params = Record<string, string | undefined>;
/** Fields a handler adds to its request's log line (never secrets). */
export type LogContext = Record<string, unknown>;
export type RouteHandler = (
  req: Request,
  params: Params,
  url: URL,
  log: LogContext,
) => Response | Promise<Response>;

interface Route {
  pattern: URLPattern;
  handlers: Map<string, RouteHandler>;
}

/** Distinct paths whose match is remembered; URLPattern matching cost more than the rest of routing. */
const MATCH_CACHE_SIZE = 1024;

export class Router {
  #routes: Route[] = [];
  #matches = new Map<string, { route: Route; params: Params } | null>();

  on(method: string, pathname: string, handler: RouteHandler): this {
    let route = this.#routes.find((r) => r.pattern.pathname === new URLPattern({ pathname }).pathname);
    if (!route) {
      route = { pattern: new URLPattern({ pathname }), handlers: new Map() };
      this.#routes.push(route);
    }
    route.handlers.set(method, handler);
    this.#matches.clear();
    return this;
  }

  /** Finds the route; throws HttpError 404/405 when there is none. */
  resolve(method: string, url: URL): { handler: RouteHandler; params: Params } {
    const match = this.#match(url.pathname);
    if (!match) throw new HttpError(404, "not_found", `Nothing is served at ${url.pathname}. Check the URL.`);
    const { route, params } = match;
    const handler = route.handlers.get(method) ??
      (method === "HEAD" ? route.handlers.get("GET") : undefined);
    if (!handler) {
      const allow = [...route.handlers.keys()].join(", ");
      throw new HttpError(405, "method_not_allowed", `${method} is not supported here; use ${allow}.`, {
        allow,
      });
    }
    return { handler, params: { ...params } };
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
