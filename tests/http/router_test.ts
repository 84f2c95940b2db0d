import assert from "node:assert/strict";
import { HttpError } from "../../lib/errors.ts";
import { compose, type Middleware, RequestContext } from "../../lib/http/context.ts";
import { errorResponse, json } from "../../lib/http/errors.ts";
import { Router } from "../../lib/http/router.ts";

function router(): Router {
  return new Router()
    .on("GET", "/items/:id", (ctx) => json(200, { id: ctx.params.id }))
    .on("POST", "/items/:id", () => json(201, {}))
    .on("GET", "/hooks/:slug{/}?", (ctx) => json(200, { slug: ctx.params.slug }));
}

async function call(r: Router, method: string, url: string, headers: Record<string, string> = {}) {
  try {
    return await r.dispatch(new RequestContext(new Request(url, { method, headers })));
  } catch (error) {
    return errorResponse(error);
  }
}

Deno.test("routes match on the path, then the method; params are decoded per request", async () => {
  const r = router();
  assert.deepEqual(await (await call(r, "GET", "http://x/items/42")).json(), { id: "42" });
  assert.deepEqual(
    await (await call(r, "GET", "http://x/items/43")).json(),
    { id: "43" },
    "not the cached 42",
  );
  assert.equal((await call(r, "POST", "http://x/items/42")).status, 201);
  assert.equal((await call(r, "HEAD", "http://x/items/42")).status, 200, "HEAD is served by GET");
  assert.deepEqual(await (await call(r, "GET", "http://x/hooks/acme/")).json(), { slug: "acme" });
});

Deno.test("unknown paths are a JSON 404, other methods a 405 with Allow", async () => {
  const r = router();
  const missing = await call(r, "GET", "http://x/nothing");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "not_found");
  const wrong = await call(r, "DELETE", "http://x/items/1");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET, POST");
  assert.equal((await wrong.json()).error.code, "method_not_allowed");
});

Deno.test("a Host with path, query or stray characters is refused, never routed", async () => {
  const r = router();
  for (const host of ["x/items/1?", "x:99999", "[::1", "a b", "x#y", "x@y"]) {
    const res = await call(r, "GET", "http://x/items/1", { host });
    assert.equal(res.status, 400, host);
    assert.equal((await res.json()).error.code, "invalid_host", host);
  }
  for (const host of ["localhost:8000", "127.0.0.1", "[::1]:8000", "intake.example.com", "my_service"]) {
    assert.equal((await call(r, "GET", "http://x/items/1", { host })).status, 200, host);
  }
});

Deno.test("middleware runs outermost first and an HttpError becomes its answer", async () => {
  const order: string[] = [];
  const mark = (name: string): Middleware => async (_ctx, next) => {
    order.push(`${name} in`);
    const res = await next();
    order.push(`${name} out`);
    return res;
  };
  const handle = compose([mark("a"), mark("b")], () => {
    order.push("handler");
    throw new HttpError(409, "conflict", "Try again.", { "retry-after": "1" });
  });
  const ctx = new RequestContext(new Request("http://x/"));
  const res = await compose([async (_ctx, next) => {
    try {
      return await next();
    } catch (error) {
      return errorResponse(error);
    }
  }], handle)(ctx);
  assert.deepEqual(order, ["a in", "b in", "handler"]);
  assert.equal(res.status, 409);
  assert.equal(res.headers.get("retry-after"), "1");
  assert.deepEqual(await res.json(), { error: { code: "conflict", message: "Try again." } });
  const internal = errorResponse(new Error("secret internals"));
  assert.equal(internal.status, 500);
  assert.ok(!(await internal.text()).includes("secret internals"));
  // Whether anything could have been stored depends on the request; the request id finds the log line.
  const onRead = await errorResponse(new Error("x"), { method: "GET", id: "req-1" }).json();
  assert.doesNotMatch(onRead.error.message, /nothing was stored/);
  assert.match(onRead.error.message, /request id req-1/);
  const onWrite = await errorResponse(new Error("x"), { method: "POST", id: "req-2" }).json();
  assert.match(onWrite.error.message, /nothing was stored.*request id req-2/);
});

Deno.test("a request id is echoed when it is sane and made up otherwise", () => {
  assert.equal(
    new RequestContext(new Request("http://x/", { headers: { "x-request-id": "abc-123" } })).requestId,
    "abc-123",
  );
  const odd =
    new RequestContext(new Request("http://x/", { headers: { "x-request-id": "a b\u0001" } })).requestId;
  assert.match(odd, /^[0-9a-f-]{36}$/);
});

Deno.test("the sender of a request: the connection's address, or behind a trusted proxy the nearest untrusted X-Forwarded-For hop", () => {
  const req = (xff?: string) => new Request("http://x/", { headers: xff ? { "x-forwarded-for": xff } : {} });
  const trusted = ["127.0.0.1", "10.0.0.2"];
  assert.equal(new RequestContext(req("203.0.113.9"), "198.51.100.1", trusted).sender, "198.51.100.1");
  assert.equal(new RequestContext(req("203.0.113.9"), "127.0.0.1", trusted).sender, "203.0.113.9");
  assert.equal(
    new RequestContext(req("6.6.6.6, 203.0.113.9, 10.0.0.2"), "127.0.0.1", trusted).sender,
    "203.0.113.9",
    "a hop the client wrote itself (6.6.6.6) is not believed",
  );
  assert.equal(new RequestContext(req(), "127.0.0.1", trusted).sender, "127.0.0.1");
  assert.equal(new RequestContext(req("203.0.113.9"), null, trusted).sender, "local");
});
