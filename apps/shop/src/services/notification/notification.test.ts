import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NotificationPage } from '../../contracts/notification-api.js';
import { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import { ShipmentDispatched } from '../../contracts/shipping-events.js';
import { startNotification, type TestNotification } from './notification.test-helpers.js';

function confirmed(orderId: string, customerId: string) {
  return {
    orderId,
    customerId,
    items: [{ sku: 'TEA-001', quantity: 2, unitPriceMinor: 1290 }],
    totalMinor: 2580,
    currency: 'EUR',
    reservationId: `res-${orderId}`,
    paymentId: `pay-${orderId}`,
  };
}

function dispatched(orderId: string, customerId: string) {
  return {
    shipmentId: `shp-${orderId}`,
    orderId,
    customerId,
    carrier: 'SwiftKeel',
    trackingNumber: 'SK000000000042',
    dispatchedAt: '2030-01-02T03:04:05.000Z',
  };
}

describe('notification', () => {
  let n: TestNotification;
  const ada = randomUUID();
  const grace = randomUUID();
  before(async () => {
    n = await startNotification();
    // For ada's order: OrderConfirmed twice (the same event redelivered), once more under another
    // id (republished), then ShipmentDispatched; for grace's: a cancellation. Per order, one
    // subject: they arrive in this order.
    const event = `${ada}:confirm_order`;
    await n.order.publish(OrderConfirmed, { subject: ada, id: event, data: confirmed(ada, 'ada') });
    await n.order.publish(OrderConfirmed, { subject: ada, id: event, data: confirmed(ada, 'ada') });
    await n.order.publish(OrderConfirmed, {
      subject: ada,
      id: `${event}:again`,
      data: confirmed(ada, 'ada'),
    });
    await n.shipping.publish(ShipmentDispatched, { subject: ada, data: dispatched(ada, 'ada') });
    await n.order.publish(OrderCancelled, {
      subject: grace,
      data: { orderId: grace, customerId: 'grace', reason: 'PAYMENT_DECLINED' },
    });
    await n.handled(4);
  });
  after(() => n?.close());

  it('records one email per (order, kind), whatever the redeliveries', async () => {
    const rows = await n.svc.deps.store.db
      .selectFrom('notifications')
      .select(['order_id', 'kind', 'channel', 'customer_id'])
      .orderBy('kind')
      .execute();
    assert.deepEqual(
      rows.map((r) => `${r.order_id === ada ? 'ada' : 'grace'}:${r.kind}:${r.channel}:${r.customer_id}`),
      [
        'grace:ORDER_CANCELLED:email:grace',
        'ada:ORDER_CONFIRMED:email:ada',
        'ada:SHIPMENT_DISPATCHED:email:ada',
      ],
    );
  });

  it("lists the caller's own notifications, and an empty list for another customer's order", async () => {
    const own = await n.call(`/notifications?orderId=${ada}`, { user: 'ada' });
    assert.equal(own.status, 200);
    NotificationPage.parse(own.body);
    assert.deepEqual(own.body.items.map((i: { kind: string }) => i.kind).sort(), [
      'ORDER_CONFIRMED',
      'SHIPMENT_DISPATCHED',
    ]);
    const mail = own.body.items.find((i: { kind: string }) => i.kind === 'ORDER_CONFIRMED');
    assert.match(mail.subject, new RegExp(`^Your order ${ada.slice(0, 8)} is confirmed$`));
    assert.match(mail.body, /2 × TEA-001 at €12\.90/);
    assert.match(mail.body, /Total: €25\.80/);
    const shipped = own.body.items.find((i: { kind: string }) => i.kind === 'SHIPMENT_DISPATCHED');
    assert.match(shipped.body, /SwiftKeel on 2030-01-02/);
    assert.match(shipped.body, /Tracking number: SK000000000042/);

    const foreign = await n.call(`/notifications?orderId=${grace}`, { user: 'ada' });
    assert.equal(foreign.status, 200);
    assert.deepEqual(foreign.body.items, []);
    const graceOwn = await n.call('/notifications', { user: 'grace' });
    assert.equal(graceOwn.body.items.length, 1);
    assert.match(graceOwn.body.items[0].body, /declined/);
  });

  it('lists every notification, paged, for operators only', async () => {
    const first = await n.call('/notifications/all?limit=2');
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 2);
    const second = await n.call(`/notifications/all?limit=2&cursor=${first.body.nextCursor}`);
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.nextCursor, null);
    const kinds = [...first.body.items, ...second.body.items].map((i: { kind: string }) => i.kind).sort();
    assert.deepEqual(kinds, ['ORDER_CANCELLED', 'ORDER_CONFIRMED', 'SHIPMENT_DISPATCHED']);
    const cancelled = await n.call('/notifications/all?kind=ORDER_CANCELLED');
    assert.equal(cancelled.body.items.length, 1);
  });

  it('answers bad input with a 4xx in the standard error shape', async () => {
    const cases: [string, { user?: string; token?: string | null }, number, string][] = [
      ['/notifications', {}, 401, 'UNAUTHENTICATED'],
      ['/notifications', { token: null }, 401, 'UNAUTHENTICATED'],
      ['/notifications?limit=0', { user: 'ada' }, 400, 'VALIDATION_FAILED'],
      ['/notifications?cursor=nope', { user: 'ada' }, 400, 'INVALID_CURSOR'],
      ['/notifications?order=1', { user: 'ada' }, 400, 'VALIDATION_FAILED'],
      ['/notifications/all', { user: 'ada' }, 403, 'FORBIDDEN'],
      ['/notifications/all?kind=SMS', {}, 400, 'VALIDATION_FAILED'],
      ['/notifications/all?limit=501', {}, 400, 'VALIDATION_FAILED'],
    ];
    for (const [path, options, status, code] of cases) {
      const res = await n.call(path, options);
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code, path);
      assert.equal(typeof res.body.error.message, 'string');
      assert.equal(typeof res.body.error.retryable, 'boolean');
    }
  });
});
