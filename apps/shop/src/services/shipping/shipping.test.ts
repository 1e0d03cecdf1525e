import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { OrderConfirmed } from '../../contracts/order-events.js';
import { ShipmentPage } from '../../contracts/shipping-api.js';
import { carrierFor } from './carrier.js';
import { eventually, startShipping, type TestShipping } from './shipping.test-helpers.js';

function confirmed(orderId: string, customerId: string) {
  return {
    orderId,
    customerId,
    items: [{ sku: 'TEA-001', quantity: 2, unitPriceMinor: 450 }],
    totalMinor: 900,
    currency: 'EUR',
    reservationId: `res-${orderId}`,
    paymentId: `pay-${orderId}`,
  };
}

async function handled(shipping: TestShipping, count: number): Promise<void> {
  await eventually(`${count} OrderConfirmed handled`, async () => {
    const stats = await shipping.svc.deps.bus.stats();
    return (stats.groups.shipping?.handled ?? 0) >= count ? true : undefined;
  });
}

describe('shipping', () => {
  it('creates one shipment per confirmed order, with ShipmentCreated, even when OrderConfirmed arrives twice', async (t) => {
    const shipping = await startShipping();
    t.after(() => shipping.close());
    const orderId = randomUUID();
    const data = confirmed(orderId, 'cus-1');
    const eventId = `${orderId}:confirm_order`;
    // The same event twice (a redelivery), then another event for the same order (a republish):
    // all on one subject, so they arrive in this order.
    await shipping.order.publish(OrderConfirmed, { subject: orderId, id: eventId, data });
    await shipping.order.publish(OrderConfirmed, { subject: orderId, id: eventId, data });
    await shipping.order.publish(OrderConfirmed, { subject: orderId, id: `${eventId}:again`, data });
    await handled(shipping, 2);

    const rows = await shipping.svc.deps.store.db.selectFrom('shipments').selectAll().execute();
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.order_id, orderId);
    assert.equal(row.customer_id, 'cus-1');
    assert.equal(row.status, 'CREATED');
    assert.deepEqual({ carrier: row.carrier, trackingNumber: row.tracking_number }, carrierFor(orderId));
    const stats = await eventually('the outbox to drain', async () => {
      const s = await shipping.svc.deps.bus.stats();
      return s.outbox.backlog === 0 ? s : undefined;
    });
    assert.equal(stats.outbox.sent, 1, 'exactly one ShipmentCreated was published');
  });

  it('dispatches a shipment SHIPPING_DISPATCH_DELAY_MS after its creation, on the job schedule', async (t) => {
    const clock = manualClock(Date.UTC(2030, 0, 1));
    const shipping = await startShipping({
      clock,
      now: () => clock.now(),
      env: { SHIPPING_DISPATCH_DELAY_MS: '2000', SHIPPING_DISPATCH_INTERVAL_MS: '500' },
    });
    t.after(() => shipping.close());
    const orderId = randomUUID();
    await shipping.order.publish(OrderConfirmed, { subject: orderId, data: confirmed(orderId, 'cus-2') });
    await handled(shipping, 1);
    const status = async () =>
      await shipping.svc.deps.store.db
        .selectFrom('shipments')
        .select(['status', 'dispatched_at'])
        .executeTakeFirstOrThrow();

    // Passes at +500, +1000 and +1500 find nothing due; +1999 has no pass.
    for (let i = 0; i < 3; i++) {
      await clock.advance(500);
      await shipping.svc.deps.dispatcher.idle();
      assert.equal((await status()).status, 'CREATED');
    }
    await clock.advance(499);
    await shipping.svc.deps.dispatcher.idle();
    assert.equal((await status()).status, 'CREATED');

    await clock.advance(1);
    await shipping.svc.deps.dispatcher.idle();
    assert.deepEqual(await status(), { status: 'DISPATCHED', dispatched_at: clock.now() });
    const stats = await eventually('the outbox to drain', async () => {
      const s = await shipping.svc.deps.bus.stats();
      return s.outbox.backlog === 0 ? s : undefined;
    });
    assert.equal(stats.outbox.sent, 2, 'ShipmentCreated and ShipmentDispatched');
  });

  it("lists a customer's own shipments only, and every shipment (paged) without an end user", async (t) => {
    const shipping = await startShipping();
    t.after(() => shipping.close());
    const ada = [randomUUID(), randomUUID()];
    const grace = randomUUID();
    for (const id of ada)
      await shipping.order.publish(OrderConfirmed, { subject: id, data: confirmed(id, 'ada') });
    await shipping.order.publish(OrderConfirmed, { subject: grace, data: confirmed(grace, 'grace') });
    await handled(shipping, 3);

    const own = await shipping.call(`/shipments?orderId=${ada[0]}`, { user: 'ada' });
    assert.equal(own.status, 200);
    ShipmentPage.parse(own.body);
    assert.deepEqual(
      own.body.items.map((s: { orderId: string }) => s.orderId),
      [ada[0]],
    );
    const foreign = await shipping.call(`/shipments?orderId=${grace}`, { user: 'ada' });
    assert.equal(foreign.status, 200);
    assert.deepEqual(foreign.body.items, []);
    const allOfAda = await shipping.call('/shipments', { user: 'ada' });
    assert.deepEqual(allOfAda.body.items.map((s: { orderId: string }) => s.orderId).sort(), [...ada].sort());

    const first = await shipping.call('/shipments?limit=2');
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 2);
    assert.equal(typeof first.body.nextCursor, 'string');
    const second = await shipping.call(`/shipments?limit=2&cursor=${first.body.nextCursor}`);
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.nextCursor, null);
    const seen = [...first.body.items, ...second.body.items].map((s: { orderId: string }) => s.orderId);
    assert.deepEqual(seen.sort(), [...ada, grace].sort());
  });

  it('answers bad input with a 4xx in the standard error shape', async (t) => {
    const shipping = await startShipping();
    t.after(() => shipping.close());
    const cases: [string, { user?: string; token?: string | null }, number, string][] = [
      ['/shipments?orderId=not-a-uuid', { user: 'ada' }, 400, 'VALIDATION_FAILED'],
      ['/shipments?limit=0', {}, 400, 'VALIDATION_FAILED'],
      ['/shipments?limit=many', {}, 400, 'VALIDATION_FAILED'],
      ['/shipments?colour=red', {}, 400, 'VALIDATION_FAILED'],
      ['/shipments?cursor=garbage', {}, 400, 'INVALID_CURSOR'],
      ['/shipments', { token: null }, 401, 'UNAUTHENTICATED'],
      ['/shipments', { token: 'Bearer not-a-token' }, 401, 'UNAUTHENTICATED'],
    ];
    for (const [path, options, status, code] of cases) {
      const res = await shipping.call(path, options);
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code, path);
      assert.equal(typeof res.body.error.message, 'string');
      assert.equal(typeof res.body.error.retryable, 'boolean');
    }
  });
});
