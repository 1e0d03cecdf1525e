import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import { callService, eventually, observeEvents, startParticipants } from './order.test-helpers.js';
import {
  freePort,
  holdingProxy,
  type OrderProcess,
  startOrderProcess,
} from './order-process.test-helpers.js';

/** The order once its saga left PENDING (the restarted process finishes it). */
function finalOrder(order: OrderProcess, orderId: string) {
  return eventually(
    `order ${orderId} to leave PENDING`,
    async () => {
      const res = await callService('order', order.url, `/orders/${orderId}`);
      return res.status === 200 && res.body.status !== 'PENDING' ? res.body : undefined;
    },
    60_000,
  );
}

describe('the order service killed in the middle of a saga', () => {
  it('confirms the order with every effect applied once after a SIGKILL during the payment call', async (t) => {
    const shop = await startParticipants();
    t.after(() => shop.close());
    // The charge reaches payment only after the order process is dead: its answer is lost.
    const proxy = await holdingProxy(
      shop.payment.url,
      (req) => req.method === 'POST' && req.url === '/payments',
    );
    t.after(() => proxy.close());
    const observer = await observeEvents(shop.dir, [OrderConfirmed]);
    t.after(() => observer.close());
    const port = await freePort();
    const env = {
      ...shop.env,
      ...shop.urls,
      FLOTILLA_PAYMENT_URL: proxy.url,
      FLOTILLA_LOG_LEVEL: 'error',
      ORDER_SAGA_INSTANCE_ID: 'order-crash-test',
    };
    const stockBefore = (await callService('inventory', shop.inventory.url, '/stock/TEA-008', { user: null }))
      .body;

    const first = await startOrderProcess(env, port);
    t.after(() => first.kill());
    const placed = await callService('order', first.url, '/orders', {
      body: { items: [{ sku: 'TEA-008', quantity: 2 }] },
      idempotencyKey: 'crash-1',
    });
    assert.equal(placed.status, 202, JSON.stringify(placed.body));
    const { orderId } = placed.body;
    await proxy.held;
    await first.kill();
    assert.equal(await proxy.release(), 201, 'payment captured the charge of the dead process');

    const second = await startOrderProcess(env, port);
    t.after(() => second.kill());
    const order = await finalOrder(second, orderId);
    assert.equal(order.status, 'CONFIRMED', second.stderr());

    const payments = await callService('payment', shop.payment.url, `/payments?orderId=${orderId}`, {
      user: null,
    });
    assert.deepEqual(
      payments.body.items.map((p: { status: string }) => p.status),
      ['CAPTURED'],
    );
    assert.equal(payments.body.chargedMinor, order.totalMinor);
    const reservation = await eventually('the reservation to be confirmed', async () => {
      const res = await callService('inventory', shop.inventory.url, `/reservations?orderId=${orderId}`, {
        user: null,
      });
      return res.body.items.length === 1 && res.body.items[0].status === 'CONFIRMED'
        ? res.body.items[0]
        : undefined;
    });
    assert.deepEqual(reservation.items, [{ sku: 'TEA-008', quantity: 2 }]);
    const stockAfter = (await callService('inventory', shop.inventory.url, '/stock/TEA-008', { user: null }))
      .body;
    assert.equal(stockAfter.available, stockBefore.available - 2);

    const saga = await callService('order', second.url, `/sagas/${orderId}`, { user: null });
    assert.equal(saga.body.state, 'completed');
    const attempts = saga.body.timeline
      .filter((a: { step: string }) => a.step === 'process_payment')
      .map((a: { outcome: string }) => a.outcome);
    assert.deepEqual(
      attempts,
      ['started', 'ok'],
      'the killed attempt, then the one that got the stored answer',
    );
    const confirmed = await observer.waitFor((e) => e.subject === orderId);
    assert.equal(confirmed.length, 1);
    assert.equal((confirmed[0]!.data as { paymentId: string }).paymentId, payments.body.items[0].paymentId);
  });

  it('cancels the order with the stock released once after a SIGKILL during a compensation', async (t) => {
    const shop = await startParticipants();
    t.after(() => shop.close());
    const proxy = await holdingProxy(
      shop.inventory.url,
      (req) => req.method === 'POST' && /^\/reservations\/[^/]+\/release$/.test(req.url ?? ''),
    );
    t.after(() => proxy.close());
    const observer = await observeEvents(shop.dir, [OrderCancelled]);
    t.after(() => observer.close());
    const port = await freePort();
    const env = {
      ...shop.env,
      ...shop.urls,
      FLOTILLA_INVENTORY_URL: proxy.url,
      FLOTILLA_LOG_LEVEL: 'error',
      ORDER_SAGA_INSTANCE_ID: 'order-crash-test-2',
    };
    const stockBefore = (
      await callService('inventory', shop.inventory.url, '/stock/GIFT-013', { user: null })
    ).body;

    const first = await startOrderProcess(env, port);
    t.after(() => first.kill());
    const placed = await callService('order', first.url, '/orders', {
      body: { items: [{ sku: 'GIFT-013', quantity: 1 }] },
      idempotencyKey: 'crash-2',
    });
    assert.equal(placed.status, 202, JSON.stringify(placed.body));
    const { orderId } = placed.body;
    // The payment is declined; the release of the reservation is in flight when the process dies.
    await proxy.held;
    await first.kill();
    assert.equal(await proxy.release(), 200, 'inventory released the stock for the dead process');

    const second = await startOrderProcess(env, port);
    t.after(() => second.kill());
    const order = await finalOrder(second, orderId);
    assert.equal(order.status, 'CANCELLED', second.stderr());
    assert.equal(order.reason, 'PAYMENT_DECLINED');

    const reservations = await callService(
      'inventory',
      shop.inventory.url,
      `/reservations?orderId=${orderId}`,
      {
        user: null,
      },
    );
    assert.deepEqual(
      reservations.body.items.map((r: { status: string }) => r.status),
      ['RELEASED'],
    );
    const stockAfter = (await callService('inventory', shop.inventory.url, '/stock/GIFT-013', { user: null }))
      .body;
    assert.deepEqual(stockAfter, stockBefore);
    const payments = await callService('payment', shop.payment.url, `/payments?orderId=${orderId}`, {
      user: null,
    });
    assert.equal(payments.body.chargedMinor, 0);
    const cancelled = await observer.waitFor((e) => e.subject === orderId);
    assert.equal(cancelled.length, 1);
    assert.equal((cancelled[0]!.data as { reason: string }).reason, 'PAYMENT_DECLINED');
  });
});
