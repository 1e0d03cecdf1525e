// The order flow end to end, as a customer sees it through the gateway (not a test file itself:
// each mode's test file registers these against its own running shop). Every scenario uses SKUs
// and customers no other scenario touches and compares stock with what it read first, so they
// hold in any order and on a shop that has already served other tests.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { NotificationPage } from '../contracts/notification-api.js';
import type { OrderPage } from '../contracts/order-api.js';
import { seedProduct } from '../seed/index.js';
import {
  assertClientError,
  demoLogin,
  type OrderAggregate,
  type OrderItem,
  type Shop,
  until,
} from './shop-harness.js';

// Customers of the scenarios; the ones that count their orders have a customer of their own.
const ADA = demoLogin('ada@example.com');
const GRACE = demoLogin('grace@example.com');
const ALAN = demoLogin('alan@example.com');
const BARBARA = demoLogin('barbara@example.com');

/** The part of the order view that may be "unavailable", known to be present. */
function present<T>(part: T | 'unavailable', name: string): T {
  assert.notEqual(part, 'unavailable', `the ${name} part of the order view is unavailable`);
  return part as T;
}

/** The order total the catalogue's prices give. */
function priceOf(items: readonly OrderItem[]): number {
  return items.reduce((sum, { sku, quantity }) => {
    const product = seedProduct(sku);
    assert.ok(product !== undefined, `no seed product ${sku}`);
    return sum + product.priceMinor * quantity;
  }, 0);
}

/** Registers the order scenarios, in the current `describe`, against the shop `shop()` returns. */
export function orderScenarios(shop: () => Shop): void {
  it('confirms an order: the total captured, the stock committed, a shipment and a notification', async () => {
    const s = shop();
    const token = await s.login(ADA.email, ADA.password);
    const items = [
      { sku: 'TEA-001', quantity: 2 },
      { sku: 'SNK-003', quantity: 1 },
    ];
    const before = { tea: await s.available('TEA-001'), snack: await s.available('SNK-003') };
    const id = await s.placeOrder(token, items);

    const view = await s.waitForOrder(
      token,
      id,
      (v) =>
        v.order.status === 'CONFIRMED' &&
        v.reservation !== 'unavailable' &&
        v.reservation.items[0]?.status === 'COMMITTED' &&
        v.shipment !== 'unavailable' &&
        v.shipment.items.length > 0,
    );
    const total = priceOf(items);
    assert.equal(view.order.totalMinor, total);
    assert.deepEqual(
      view.order.items.map(({ sku, quantity }) => ({ sku, quantity })),
      items,
    );
    const payment = present(view.payment, 'payment');
    assert.equal(payment.items.length, 1);
    assert.equal(payment.items[0]?.status, 'CAPTURED');
    assert.equal(payment.items[0]?.amountMinor, total);
    assert.equal(payment.chargedMinor, total);
    assert.equal(payment.refundedMinor, 0);
    const reservation = present(view.reservation, 'reservation');
    assert.equal(reservation.items.length, 1);
    assert.deepEqual(
      [...(reservation.items[0]?.items ?? [])].sort((a, b) => a.sku.localeCompare(b.sku)),
      [...items].sort((a, b) => a.sku.localeCompare(b.sku)),
    );
    const shipment = present(view.shipment, 'shipment');
    assert.equal(shipment.items.length, 1);
    assert.equal(shipment.items[0]?.orderId, id);
    assert.deepEqual(view.parts, {
      order: { status: 'ok' },
      payment: { status: 'ok' },
      reservation: { status: 'ok' },
      shipment: { status: 'ok' },
    });
    assert.equal(await s.available('TEA-001'), before.tea - 2);
    assert.equal(await s.available('SNK-003'), before.snack - 1);

    const notifications = await until(
      `the confirmation notification of order ${id}`,
      async () => {
        const res = await s.request<NotificationPage>('GET', `/api/v2/notifications?orderId=${id}`, {
          token,
        });
        assert.equal(res.status, 200, res.text);
        return res.body.items.some((n) => n.kind === 'ORDER_CONFIRMED') ? res.body.items : undefined;
      },
      { describe: () => s.output() },
    );
    assert.ok(notifications.every((n) => n.orderId === id && n.channel === 'email'));
  });

  it('cancels an order the payment provider declines, gives the stock back and keeps no money', async () => {
    const s = shop();
    const token = await s.login(ADA.email, ADA.password);
    const before = await s.available('GIFT-013');
    const id = await s.placeOrder(token, [{ sku: 'GIFT-013', quantity: 1 }]);

    const view = await s.waitForOrder(token, id, (v) => v.order.status !== 'PENDING');
    assert.equal(view.order.status, 'CANCELLED');
    assert.equal(view.order.reason, 'PAYMENT_DECLINED');
    const payment = present(view.payment, 'payment');
    assert.ok(
      payment.items.every((p) => p.status === 'DECLINED' && p.chargedMinor === 0),
      JSON.stringify(payment),
    );
    assert.equal(payment.chargedMinor - payment.refundedMinor, 0);
    const reservation = present(view.reservation, 'reservation');
    assert.deepEqual(
      reservation.items.map((r) => r.status),
      ['RELEASED'],
    );
    assert.deepEqual(present(view.shipment, 'shipment').items, []);
    assert.equal(await s.available('GIFT-013'), before);
  });

  it('cancels an order for more than the stock with OUT_OF_STOCK and charges nothing', async () => {
    const s = shop();
    const token = await s.login(ADA.email, ADA.password);
    const before = await s.available('TEA-012');
    const id = await s.placeOrder(token, [{ sku: 'TEA-012', quantity: before + 1 }]);

    const view = await s.waitForOrder(token, id, (v) => v.order.status !== 'PENDING');
    assert.equal(view.order.status, 'CANCELLED');
    assert.equal(view.order.reason, 'OUT_OF_STOCK');
    assert.deepEqual(present(view.payment, 'payment').items, []);
    assert.deepEqual(present(view.reservation, 'reservation').items, []);
    assert.equal(await s.available('TEA-012'), before);
  });

  it('answers the same Idempotency-Key with the same order, and keeps one order', async () => {
    const s = shop();
    const token = await s.login(ALAN.email, ALAN.password);
    const list = async (): Promise<OrderPage['items']> => {
      const res = await s.request<OrderPage>('GET', '/api/v2/orders?limit=100', { token });
      assert.equal(res.status, 200, res.text);
      return res.body.items;
    };
    const before = await list();
    const key = randomUUID();
    const items = [{ sku: 'COF-001', quantity: 1 }];
    const first = await s.placeOrder(token, items, key);
    const second = await s.placeOrder(token, items, key);
    assert.equal(second, first);
    // The same key with other items is a mistake of the client, not a new order.
    const reused = await s.request('POST', '/api/v2/orders', {
      token,
      body: { items: [{ sku: 'COF-001', quantity: 2 }] },
      headers: { 'idempotency-key': key },
    });
    assertClientError(reused, { status: 409, code: 'IDEMPOTENCY_KEY_REUSED' });

    const view = await s.waitForOrder(token, first, (v) => v.order.status === 'CONFIRMED');
    assert.equal(present(view.payment, 'payment').items.length, 1);
    const after = await list();
    assert.equal(after.length, before.length + 1);
    assert.deepEqual(
      after.filter((o) => o.id === first).map((o) => o.status),
      ['CONFIRMED'],
    );
  });

  it('sells exactly the last 10 units to 50 concurrent orders and refuses the other 40', async () => {
    const s = shop();
    const sku = 'WARE-009';
    const token = await s.login(BARBARA.email, BARBARA.password);
    // Bring the stock to exactly 10, whatever it is now.
    let left = await s.available(sku);
    assert.ok(left >= 10, `${sku} has only ${left} units; the scenario needs at least 10`);
    while (left > 10) {
      const take = Math.min(left - 10, 100);
      const id = await s.placeOrder(token, [{ sku, quantity: take }]);
      const view = await s.waitForOrder(token, id, (v) => v.order.status !== 'PENDING');
      assert.equal(view.order.status, 'CONFIRMED', JSON.stringify(view.order));
      left = await s.available(sku);
    }
    assert.equal(left, 10);

    const ids = await Promise.all(
      Array.from({ length: 50 }, () => s.placeOrder(token, [{ sku, quantity: 1 }])),
    );
    assert.equal(new Set(ids).size, 50);
    const wanted = new Set(ids);
    const settled = await until(
      'the 50 orders to be confirmed or cancelled',
      async () => {
        const res = await s.request<OrderPage>('GET', '/api/v2/orders?limit=100', { token });
        assert.equal(res.status, 200, res.text);
        const mine = res.body.items.filter((o) => wanted.has(o.id));
        return mine.length === 50 && mine.every((o) => o.status !== 'PENDING') ? mine : undefined;
      },
      { deadlineMs: 60_000, describe: () => s.output() },
    );
    const confirmed = settled.filter((o) => o.status === 'CONFIRMED');
    const cancelled = settled.filter((o) => o.status === 'CANCELLED');
    assert.equal(confirmed.length, 10);
    assert.equal(cancelled.length, 40);
    const unexpected = cancelled.filter((o) => o.reason !== 'OUT_OF_STOCK').map((o) => o.id);
    assert.deepEqual(
      unexpected,
      [],
      `cancelled for another reason than OUT_OF_STOCK:\n${s
        .output(1_000_000)
        .split('\n')
        .filter((line) => unexpected.some((id) => line.includes(id)))
        .join('\n')}`,
    );
    assert.equal(await s.available(sku), 0);
  });

  it("hides one customer's order from another: 404 in the standard shape, absent from their lists", async () => {
    const s = shop();
    const ada = await s.login(ADA.email, ADA.password);
    const grace = await s.login(GRACE.email, GRACE.password);
    const id = await s.placeOrder(ada, [{ sku: 'SNK-001', quantity: 1 }]);
    const own: OrderAggregate = await s.waitForOrder(ada, id, (v) => v.order.status === 'CONFIRMED');
    assert.equal(own.order.id, id);

    const read = await s.request('GET', `/api/v2/orders/${id}`, { token: grace });
    assertClientError(read, { status: 404, code: 'ORDER_NOT_FOUND' });
    assert.doesNotMatch(read.text, /SNK-001|cus-0001/);
    const list = await s.request<OrderPage>('GET', '/api/v2/orders?limit=100', { token: grace });
    assert.equal(list.status, 200, list.text);
    assert.ok(!list.body.items.some((o) => o.id === id));
    for (const path of [`/api/v2/notifications?orderId=${id}`, `/api/v2/shipments?orderId=${id}`]) {
      const res = await s.request<{ items: unknown[] }>('GET', path, { token: grace });
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.deepEqual(res.body.items, [], path);
    }
  });
}
