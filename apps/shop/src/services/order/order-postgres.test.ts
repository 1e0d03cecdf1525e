import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTestDatabase, requirePg } from '@flotilla/store/testing';
import { callService, eventually, startShop } from './order.test-helpers.js';

const pg = await requirePg();

describe('order, shipping and notification on PostgreSQL', { skip: pg.skip }, () => {
  it('confirms, ships and notifies one order and cancels a declined one', async (t) => {
    const databases = await Promise.all(
      ['order', 'shipping', 'notification'].map((service) =>
        createTestDatabase({ prefix: `shop_${service}` }),
      ),
    );
    let shop: Awaited<ReturnType<typeof startShop>> | undefined;
    // The services close before their databases are dropped (after-hooks run in registration order).
    t.after(async () => {
      await shop?.close();
      await Promise.all(databases.map((d) => d.drop()));
    });
    const [order, shipping, notification] = databases;
    shop = await startShop({
      consumers: true,
      env: {
        FLOTILLA_DATABASE_URL_ORDER: order!.url,
        FLOTILLA_DATABASE_URL_SHIPPING: shipping!.url,
        FLOTILLA_DATABASE_URL_NOTIFICATION: notification!.url,
        SHIPPING_DISPATCH_DELAY_MS: '20',
        SHIPPING_DISPATCH_INTERVAL_MS: '20',
      },
    });
    assert.equal(shop.order.deps.store.dialect, 'postgres');

    const confirmed = await shop.placeAndSettle([{ sku: 'TEA-009', quantity: 1 }], {
      idempotencyKey: 'pg-1',
    });
    assert.equal(confirmed.body.status, 'CONFIRMED');
    const replay = await shop.call('/orders', {
      body: { items: [{ sku: 'TEA-009', quantity: 1 }] },
      idempotencyKey: 'pg-1',
    });
    assert.equal(replay.body.orderId, confirmed.body.id);
    const declined = await shop.placeAndSettle([{ sku: 'GIFT-013', quantity: 1 }]);
    assert.equal(declined.body.status, 'CANCELLED');
    assert.equal(declined.body.reason, 'PAYMENT_DECLINED');

    const list = await shop.call('/orders');
    assert.deepEqual(
      list.body.items.map((o: { id: string }) => o.id),
      [declined.body.id, confirmed.body.id],
    );
    await eventually('the shipment to be dispatched', async () => {
      const res = await shop.inspect('shipping', `/shipments?orderId=${confirmed.body.id}`);
      return res.body.items[0]?.status === 'DISPATCHED' ? true : undefined;
    });
    const kinds = await eventually('three notifications', async () => {
      const res = await callService('notification', shop.notification!.url, '/notifications');
      return res.body.items.length >= 3
        ? res.body.items.map((n: { kind: string }) => n.kind).sort()
        : undefined;
    });
    assert.deepEqual(kinds, ['ORDER_CANCELLED', 'ORDER_CONFIRMED', 'SHIPMENT_DISPATCHED']);
  });
});
