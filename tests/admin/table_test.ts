/**
 * The operations table drives every adapter: each row is a route of the admin API, each CLI row a
 * command of `deno task admin`, and the dashboard gets the same shapes from `api.json`.
 */
import assert from "node:assert/strict";
import { fillPath, OPERATION_LIST, pathParams } from "../../lib/admin/table.ts";
import { publicTable } from "../../lib/admin/operations.ts";
import { USAGE } from "../../lib/cli/admin.ts";
import { withServer } from "../_helpers.ts";

Deno.test("every row of the operations table is an admin route, behind the token", async () => {
  await withServer({}, async (server) => {
    for (const [name, op] of OPERATION_LIST) {
      const params = Object.fromEntries(pathParams(op.path).map((p) => [p, "x"]));
      const res = await server.fetch(fillPath(op.path, params), { method: op.method });
      if (op.public) {
        // Opening a portal session takes no token: without a link's key it opens nothing.
        const body = await res.json();
        assert.equal(body.error.code, "portal_link_unknown", `${name}: ${op.method} ${op.path} is routed`);
        continue;
      }
      await res.body?.cancel();
      assert.equal(res.status, 401, `${name}: ${op.method} ${op.path} is routed and guarded`);
    }
  });
});

Deno.test("every CLI row is a command, and the dashboard gets every row's shape", async () => {
  for (const [name, op] of OPERATION_LIST) {
    if (op.cli) {
      assert.ok(USAGE.includes(`  ${op.cli.command}`), `${name}: "${op.cli.command}" in the CLI's usage`);
    }
  }
  await withServer({}, async (server) => {
    const served = await (await server.fetch("/admin/assets/api.json")).json();
    assert.deepEqual(served.operations, JSON.parse(JSON.stringify(publicTable())));
    assert.equal(Object.keys(served.operations).length, OPERATION_LIST.length);
  });
});

Deno.test("paths are filled with each parameter as one encoded segment", () => {
  assert.deepEqual(pathParams("/admin/clients/:slug/secrets/:secretId"), ["slug", "secretId"]);
  assert.equal(
    fillPath("/admin/clients/:slug/jobs/:id", { slug: "acme", id: "a/b?c" }),
    "/admin/clients/acme/jobs/a%2Fb%3Fc",
  );
  assert.throws(() => fillPath("/admin/clients/:slug", {}), /Missing path parameter "slug"/);
});
