import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import {
  callService,
  drive,
  type EventObserver,
  eventually,
  observeEvents,
  startShop,
  type TestShop,
} from './order.test-helpers.js';

async function stockOf(shop: TestShop, sku: string): Promise<{ available: number; reserved: number }> {
  const res = await shop.inspect('inventory', `/stock/${sku}`);
  assert.equal(res.status, 200);
  return { available: res.body.available, reserved: res.body.reserved };
}

async function actionAttempts(shop: TestShop, orderId: string, step: string): Promise<string[]> {
  const saga = await shop.order.deps.runner.get(orderId);
  return saga.timeline.filter((a) => a.step === step && a.phase === 'action').map((a) => a.outcome);
}

describe('the fulfillment saga', () => {
  let shop: TestShop;
  let observer: EventObserver;
  before(async () => {
    shop = await startShop({
      consumers: true,
      env: { SHIPPING_DISPATCH_DELAY_MS: '20', SHIPPING_DISPATCH_INTERVAL_MS: '20' },
    });
    observer = await observeEvents(shop.dir, [OrderConfirmed, OrderCancelled]);
  });
  after(async () => {
    await observer?.close();
    await shop?.close();
  });

  it('confirms an order, ships it and notifies the customer once per kind', async () => {
    const stock = await stockOf(shop, 'COF-002');
    const order = await shop.placeAndSettle([{ sku: 'COF-002', quantity: 3 }]);
    assert.equal(order.body.status, 'CONFIRMED');
    const orderId: string = order.body.id;
    const [confirmed] = await observer.waitFor((e) => e.type === 'OrderConfirmed' && e.subject === orderId);
    assert.equal((confirmed!.data as { customerId: string }).customerId, 'cus-0001');

    const shipment = await eventually('the shipment to be dispatched', async () => {
      const res = await shop.inspect('shipping', `/shipments?orderId=${orderId}`);
      return res.body.items[0]?.status === 'DISPATCHED' ? res.body.items : undefined;
    });
    assert.equal(shipment.length, 1);
    const reservation = await eventually('the reservation to be committed', async () => {
      const res = await shop.inspect('inventory', `/reservations?orderId=${orderId}`);
      return res.body.items[0]?.status === 'COMMITTED' ? res.body.items[0] : undefined;
    });
    assert.deepEqual(reservation.items, [{ sku: 'COF-002', quantity: 3 }]);
    assert.deepEqual(await stockOf(shop, 'COF-002'), {
      available: stock.available - 3,
      reserved: stock.reserved,
    });

    const notifications = await eventually('two notifications', async () => {
      const res = await callService(
        'notification',
        shop.notification!.url,
        `/notifications?orderId=${orderId}`,
      );
      return res.body.items.length >= 2 ? res.body.items : undefined;
    });
    assert.deepEqual(notifications.map((n: { kind: string }) => n.kind).sort(), [
      'ORDER_CONFIRMED',
      'SHIPMENT_DISPATCHED',
    ]);
  });

  it('cancels a declined payment (PAYMENT_DECLINED): stock released, nothing charged, no retry', async () => {
    const stock = await stockOf(shop, 'GIFT-013');
    const order = await shop.placeAndSettle([{ sku: 'GIFT-013', quantity: 1 }]);
    assert.equal(order.body.status, 'CANCELLED');
    assert.equal(order.body.reason, 'PAYMENT_DECLINED');
    const orderId: string = order.body.id;
    assert.deepEqual(await actionAttempts(shop, orderId, 'process_payment'), ['error']);

    const [cancelled] = await observer.waitFor((e) => e.type === 'OrderCancelled' && e.subject === orderId);
    assert.equal((cancelled!.data as { reason: string }).reason, 'PAYMENT_DECLINED');
    const reservations = await shop.inspect('inventory', `/reservations?orderId=${orderId}`);
    assert.equal(reservations.body.items[0]?.status, 'RELEASED');
    assert.deepEqual(await stockOf(shop, 'GIFT-013'), stock);
    const payments = await shop.inspect('payment', `/payments?orderId=${orderId}`);
    assert.deepEqual(
      payments.body.items.map((p: { status: string }) => p.status),
      ['DECLINED'],
    );
    assert.equal(payments.body.chargedMinor, 0);

    const notified = await eventually('the cancellation email', async () => {
      const res = await callService(
        'notification',
        shop.notification!.url,
        `/notifications?orderId=${orderId}`,
      );
      return res.body.items.length >= 1 ? res.body.items : undefined;
    });
    assert.equal(notified[0].kind, 'ORDER_CANCELLED');
    const shipments = await shop.inspect('shipping', `/shipments?orderId=${orderId}`);
    assert.deepEqual(shipments.body.items, []);
  });

  it('cancels an order that is out of stock (OUT_OF_STOCK) without calling payment', async () => {
    const stock = await stockOf(shop, 'TEA-012');
    const order = await shop.placeAndSettle([
      { sku: 'TEA-001', quantity: 1 },
      { sku: 'TEA-012', quantity: stock.available + 1 },
    ]);
    assert.equal(order.body.status, 'CANCELLED');
    assert.equal(order.body.reason, 'OUT_OF_STOCK');
    const orderId: string = order.body.id;
    assert.deepEqual(await actionAttempts(shop, orderId, 'reserve_inventory'), ['error']);
    assert.deepEqual(await actionAttempts(shop, orderId, 'process_payment'), []);
    const [cancelled] = await observer.waitFor((e) => e.type === 'OrderCancelled' && e.subject === orderId);
    assert.equal((cancelled!.data as { reason: string }).reason, 'OUT_OF_STOCK');
    assert.deepEqual(await stockOf(shop, 'TEA-012'), stock);
    const payments = await shop.inspect('payment', `/payments?orderId=${orderId}`);
    assert.deepEqual(payments.body.items, []);
  });
});

describe('the fulfillment saga when a participant is down', () => {
  /**
   * A shop whose order service runs on a manual clock with the production backoff (500 ms
   * doubling up to 5 s): the test moves time, not the wall clock.
   */
  async function shopOnManualClock(t: { after(fn: () => unknown): void }, env: Record<string, string> = {}) {
    const clock = manualClock(Date.UTC(2030, 0, 1));
    const shop = await startShop({
      order: { clock, now: () => clock.now() },
      env: { ORDER_RETRY_INITIAL_DELAY_MS: '500', ORDER_RETRY_MAX_DELAY_MS: '5000', ...env },
    });
    t.after(() => shop.close());
    const placeAndSettle = async (items: { sku: string; quantity: number }[]) => {
      const placed = await shop.call('/orders', { body: { items }, idempotencyKey: `down-${items[0]?.sku}` });
      assert.equal(placed.status, 202, JSON.stringify(placed.body));
      await drive(clock, shop.order.deps.runner.settled(placed.body.orderId));
      return (await shop.call(`/orders/${placed.body.orderId}`)).body;
    };
    return { shop, placeAndSettle };
  }

  it('retries the payment ORDER_PAYMENT_RETRY_ATTEMPTS times, then cancels (PAYMENT_UNAVAILABLE) and releases the stock', async (t) => {
    const { shop, placeAndSettle } = await shopOnManualClock(t);
    await shop.payment.close();
    const stock = await stockOf(shop, 'TEA-005');

    const order = await placeAndSettle([{ sku: 'TEA-005', quantity: 2 }]);
    assert.equal(order.status, 'CANCELLED');
    assert.equal(order.reason, 'PAYMENT_UNAVAILABLE');
    // The default policy: 5 attempts, each refused, none of them able to have charged anything.
    assert.deepEqual(await actionAttempts(shop, order.id, 'process_payment'), [
      'error',
      'error',
      'error',
      'error',
      'error',
    ]);
    const saga = await shop.order.deps.runner.get(order.id);
    assert.equal(saga.state, 'compensated');
    assert.deepEqual(
      saga.timeline.filter((a) => a.phase === 'compensation').map((a) => `${a.step}:${a.outcome}`),
      ['process_payment:ok', 'reserve_inventory:ok', 'accept_order:ok'],
    );
    const reservations = await shop.inspect('inventory', `/reservations?orderId=${order.id}`);
    assert.equal(reservations.body.items[0]?.status, 'RELEASED');
    assert.deepEqual(await stockOf(shop, 'TEA-005'), stock);
  });

  it('honours ORDER_PAYMENT_RETRY_ATTEMPTS', async (t) => {
    const { shop, placeAndSettle } = await shopOnManualClock(t, { ORDER_PAYMENT_RETRY_ATTEMPTS: '2' });
    await shop.payment.close();
    const order = await placeAndSettle([{ sku: 'TEA-006', quantity: 1 }]);
    assert.equal(order.reason, 'PAYMENT_UNAVAILABLE');
    assert.deepEqual(await actionAttempts(shop, order.id, 'process_payment'), ['error', 'error']);
  });

  it('cancels with INVENTORY_UNAVAILABLE when inventory stays down, without charging', async (t) => {
    const { shop, placeAndSettle } = await shopOnManualClock(t, { ORDER_INVENTORY_RETRY_ATTEMPTS: '3' });
    await shop.inventory.close();
    const order = await placeAndSettle([{ sku: 'TEA-007', quantity: 1 }]);
    assert.equal(order.status, 'CANCELLED');
    assert.equal(order.reason, 'INVENTORY_UNAVAILABLE');
    assert.deepEqual(await actionAttempts(shop, order.id, 'reserve_inventory'), ['error', 'error', 'error']);
    const payments = await shop.inspect('payment', `/payments?orderId=${order.id}`);
    assert.deepEqual(payments.body.items, []);
  });
});
