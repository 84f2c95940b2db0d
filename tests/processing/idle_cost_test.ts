/**
 * What the minute's ticks cost when nothing is due, counted in KV read units on a real KV wrapped
 * by the bench's meter: the same few reads for 1 client as for 500 (each with a Cal.com API key,
 * passes not yet due); and a due client is reconciled once, then not again until its interval.
 */
import assert from "node:assert/strict";
import type { Service } from "../../lib/service.ts";
import { FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";
import {
  bookingCreated,
  countingReceiver,
  FIXTURE_SECRET,
  meteredService,
  postSigned,
  waitFor,
} from "../_helpers.ts";

/** One minute's ticks (the sweeper with outbound, and reconciliation), as main.ts's crons run them. */
async function tick(service: Service): Promise<void> {
  await Promise.all([service.sweeper.sweepOnce(), service.outbound.runDue()]);
  await service.reconciler.runDue();
}

Deno.test("an idle minute reads the same few KV units for 1 client as for 500", async () => {
  const fake = startFakeCalcom();
  // Each client would have its own key (and its own rate limit); here they share the fake's one.
  fake.rateLimitPerMinute = Infinity;
  try {
    const units: Record<number, number> = {};
    for (const clients of [1, 500]) {
      const { service, take, close } = await meteredService();
      for (let i = 0; i < clients; i++) {
        await service.admins.cli.createClient({
          slug: `c-${i}`,
          calcom_api_key: FAKE_API_KEY,
          calcom_api_url: fake.url,
        });
      }
      // Every client had its pass (a tick takes up to 100 due clients): the next ones are an interval away.
      for (let i = 0; i * 100 < clients; i++) await tick(service);
      await service.reconciler.idle();
      const passes = fake.requests.filter((r) => r.path === "/v2/bookings").length - (clients === 1 ? 0 : 1);
      assert.equal(
        passes,
        clients,
        `each client's first pass ran (${clients}: ${fake.requests.length} requests)`,
      );
      const before = fake.requests.length;
      take();
      await tick(service);
      const idle = take();
      units[clients] = idle.readUnits;
      assert.equal(fake.requests.length, before, "nothing was due, so Cal.com was not asked");
      assert.equal(idle.writeUnits, 0, "an idle tick writes nothing");
      await close();
    }
    assert.ok(units[500] <= 5, `500 clients: ${units[500]} read units an idle minute`);
    assert.equal(units[500], units[1], `the same for 1 and 500 clients (${JSON.stringify(units)})`);
  } finally {
    await fake.close();
  }
});

Deno.test("an idle minute with caught-up outbound endpoints writes nothing and reads no endpoint's log", async () => {
  const receiver = countingReceiver();
  const { service, take, close } = await meteredService({ outboundAllowPrivate: true });
  try {
    const clients = 50;
    for (let i = 0; i < clients; i++) {
      const slug = `e-${i}`;
      await service.admins.cli.createClient({ slug, secret: FIXTURE_SECRET });
      await service.admins.cli.createEndpoint({ slug, url: receiver.url });
      assert.equal(await postSigned(service, slug, bookingCreated(`${slug}-1`, `p${i}@example.org`)), 202);
    }
    await tick(service);
    await waitFor("every endpoint caught up", () => receiver.received() >= clients || undefined);
    await service.outbound.settled();
    take();
    await tick(service);
    await service.outbound.settled();
    const idle = take();
    assert.equal(idle.writeUnits, 0, "no lease taken, no position written");
    assert.ok(idle.readUnits <= 5 + clients / 4, `${idle.readUnits} read units for ${clients} endpoints`);
  } finally {
    await close();
    await receiver.close();
  }
});
