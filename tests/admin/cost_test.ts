/**
 * What the admin views cost in KV read units (a real KV wrapped by the bench's meter): the Clients
 * list stays under one read unit per client, and a client's overview costs the same with 60 Jobs as
 * with 2.
 */
import assert from "node:assert/strict";
import { bookingCreated, FIXTURE_SECRET, meteredService, postSigned } from "../_helpers.ts";

async function metered() {
  const { service, take, close } = await meteredService();
  const post = async (slug: string, body: string) => assert.equal(await postSigned(service, slug, body), 202);
  return { ops: service.admins.api, post, take, close };
}

Deno.test("the Clients list reads under one unit per client; an overview costs the same at 2 Jobs as at 60", async () => {
  const { ops, post, take, close } = await metered();
  try {
    for (let i = 0; i < 60; i++) {
      await ops.createClient({ slug: `c-${i}`, secret: FIXTURE_SECRET, calcom_api_key: "cal_live_x" });
      await post(`c-${i}`, bookingCreated(`c${i}-1`, `p${i}@example.org`));
    }
    for (let j = 2; j <= 60; j++) await post("c-0", bookingCreated(`big-${j}`, `q${j}@example.org`));
    await post("c-1", bookingCreated("small-2", "s@example.org"));

    take();
    const list = await ops.listClients();
    const listCost = take().readUnits;
    assert.equal(list.items.length, 60);
    assert.equal(list.items.find((c) => c.slug === "c-0")?.activity.jobs_by_status.scheduled, 60);
    assert.ok(listCost <= 60, `the Clients list: ${listCost} read units for 60 clients`);

    const big = await ops.clientOverview({ slug: "c-0" });
    const bigCost = take().readUnits;
    const small = await ops.clientOverview({ slug: "c-1" });
    const smallCost = take().readUnits;
    assert.equal(big.jobs_by_status.scheduled, 60);
    assert.equal(small.jobs_by_status.scheduled, 2);
    assert.equal(bigCost, smallCost, `overview: ${bigCost} read units at 60 Jobs, ${smallCost} at 2`);
  } finally {
    await close();
  }
});
