import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OrderAccepted, OrderPage, OrderView } from '../../contracts/order-api.js';
import { OrderConfirmed, OrderCreated } from '../../contracts/order-events.js';
import { type EventObserver, observeEvents, startShop, type TestShop } from './order.test-helpers.js';

describe('POST /orders and the order views', () => {
  let shop: TestShop;
  let observer: EventObserver;
  before(async () => {
    shop = await startShop();
    observer = await observeEvents(shop.dir, [OrderCreated, OrderConfirmed]);
  });
  after(async () => {
    await observer?.close();
    await shop?.close();
  });

  const countOrders = async () =>
    Number(
      (
        await shop.order.deps.store.db
          .selectFrom('orders')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('accepts an order (202 PENDING), prices it from the catalogue and confirms it', async () => {
    const placed = await shop.call('/orders', {
      body: {
        items: [
          { sku: 'TEA-001', quantity: 2 },
          { sku: 'COF-001', quantity: 1 },
        ],
      },
      idempotencyKey: 'happy-1',
    });
    assert.equal(placed.status, 202, JSON.stringify(placed.body));
    OrderAccepted.parse(placed.body);
    assert.equal(placed.body.status, 'PENDING');
    const { orderId } = placed.body;

    assert.equal(await shop.order.deps.runner.settled(orderId), 'completed');
    const order = await shop.call(`/orders/${orderId}`);
    assert.equal(order.status, 200);
    OrderView.parse(order.body);
    assert.equal(order.body.status, 'CONFIRMED');
    assert.equal(order.body.reason, undefined);
    assert.equal(order.body.customerId, 'cus-0001');
    assert.deepEqual(order.body.items, [
      { sku: 'TEA-001', quantity: 2, unitPriceMinor: 1290 },
      { sku: 'COF-001', quantity: 1, unitPriceMinor: 1490 },
    ]);
    assert.equal(order.body.totalMinor, 2 * 1290 + 1490);
    assert.equal(order.body.currency, 'EUR');

    const [created] = await observer.waitFor((e) => e.type === 'OrderCreated' && e.subject === orderId);
    assert.equal((created!.data as { totalMinor: number }).totalMinor, 4070);
    const [confirmed] = await observer.waitFor((e) => e.type === 'OrderConfirmed' && e.subject === orderId);
    const data = confirmed!.data as { paymentId: string; reservationId: string; totalMinor: number };
    assert.equal(data.totalMinor, 4070);

    const payments = await shop.inspect('payment', `/payments?orderId=${orderId}`);
    assert.equal(payments.body.items.length, 1);
    assert.equal(payments.body.items[0].paymentId, data.paymentId);
    assert.equal(payments.body.items[0].status, 'CAPTURED');
    assert.equal(payments.body.chargedMinor, 4070);
    const reservations = await shop.inspect('inventory', `/reservations?orderId=${orderId}`);
    assert.equal(reservations.body.items.length, 1);
    assert.equal(reservations.body.items[0].reservationId, data.reservationId);
  });

  it('answers the same Idempotency-Key with the same order and body, once, even concurrently', async () => {
    const before = await countOrders();
    const request = { body: { items: [{ sku: 'TEA-002', quantity: 1 }] }, idempotencyKey: 'same-key' };
    const answers = await Promise.all([1, 2, 3, 4].map(() => shop.call('/orders', request)));
    for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.body));
    const ids = new Set(answers.map((a) => a.body.orderId));
    assert.equal(ids.size, 1);
    const again = await shop.call('/orders', request);
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, answers[0]?.body);
    // The items in another order are the same request.
    const reordered = await shop.call('/orders', {
      body: { items: [{ quantity: 1, sku: 'TEA-002' }] },
      idempotencyKey: 'same-key',
    });
    assert.deepEqual(reordered.body, answers[0]?.body);
    assert.equal(await countOrders(), before + 1);
    // Another customer's key of the same name is another order.
    const other = await shop.call('/orders', { ...request, user: 'cus-0002' });
    assert.equal(other.status, 202);
    assert.notEqual(other.body.orderId, answers[0]?.body.orderId);
  });

  it('refuses the same Idempotency-Key with other items: 409 IDEMPOTENCY_KEY_REUSED', async () => {
    const first = await shop.call('/orders', {
      body: { items: [{ sku: 'TEA-003', quantity: 1 }] },
      idempotencyKey: 'k-409',
    });
    assert.equal(first.status, 202);
    const second = await shop.call('/orders', {
      body: { items: [{ sku: 'TEA-003', quantity: 2 }] },
      idempotencyKey: 'k-409',
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(second.body.error.retryable, false);
  });

  it("hides another customer's order (404) and lists only the caller's own, newest first", async () => {
    const mine = await shop.placeAndSettle([{ sku: 'TEA-004', quantity: 1 }], { user: 'cus-0003' });
    const mine2 = await shop.placeAndSettle([{ sku: 'GIFT-013', quantity: 1 }], { user: 'cus-0003' });
    const theirs = await shop.placeAndSettle([{ sku: 'TEA-004', quantity: 1 }], { user: 'cus-0004' });
    assert.equal(mine2.body.status, 'CANCELLED');

    const foreign = await shop.call(`/orders/${theirs.body.id}`, { user: 'cus-0003' });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.code, 'ORDER_NOT_FOUND');
    const missing = await shop.call('/orders/00000000-0000-4000-8000-000000000000', { user: 'cus-0003' });
    assert.equal(missing.status, 404);

    const list = await shop.call('/orders', { user: 'cus-0003' });
    assert.equal(list.status, 200);
    OrderPage.parse(list.body);
    assert.deepEqual(
      list.body.items.map((o: { id: string }) => o.id),
      [mine2.body.id, mine.body.id],
    );
    const confirmed = await shop.call('/orders?status=CONFIRMED', { user: 'cus-0003' });
    assert.deepEqual(
      confirmed.body.items.map((o: { id: string }) => o.id),
      [mine.body.id],
    );
    const page1 = await shop.call('/orders?limit=1', { user: 'cus-0003' });
    assert.deepEqual(
      page1.body.items.map((o: { id: string }) => o.id),
      [mine2.body.id],
    );
    const page2 = await shop.call(`/orders?limit=1&cursor=${page1.body.nextCursor}`, { user: 'cus-0003' });
    assert.deepEqual(
      page2.body.items.map((o: { id: string }) => o.id),
      [mine.body.id],
    );
    assert.equal(page2.body.nextCursor, null);
  });

  it('refuses an unknown product with 422 UNKNOWN_PRODUCT before writing anything', async () => {
    const before = await countOrders();
    // A SKU the catalogue does not sell, and one it could not even spell.
    for (const sku of ['NOPE-999', 'tea_001']) {
      const res = await shop.call('/orders', {
        body: {
          items: [
            { sku: 'TEA-001', quantity: 1 },
            { sku, quantity: 1 },
          ],
        },
        idempotencyKey: `unknown-${sku}`,
      });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'UNKNOWN_PRODUCT');
      assert.deepEqual(res.body.error.details, { skus: [sku] });
    }
    assert.equal(await countOrders(), before);
  });

  it('answers every bad input with a 4xx in the standard error shape', async () => {
    const before = await countOrders();
    const item = { sku: 'TEA-001', quantity: 1 };
    const many = Array.from({ length: 21 }, (_, i) => ({
      sku: `TEA-${String(i + 1).padStart(3, '0')}`,
      quantity: 1,
    }));
    const cases: [string, string, Parameters<TestShop['call']>[1], number, string][] = [
      ['no Idempotency-Key', '/orders', { body: { items: [item] } }, 400, 'IDEMPOTENCY_KEY_REQUIRED'],
      [
        'a key with spaces',
        '/orders',
        { body: { items: [item] }, idempotencyKey: 'a b' },
        400,
        'IDEMPOTENCY_KEY_INVALID',
      ],
      [
        'a 201-character key',
        '/orders',
        { body: { items: [item] }, idempotencyKey: 'k'.repeat(201) },
        400,
        'IDEMPOTENCY_KEY_INVALID',
      ],
      [
        'no end user',
        '/orders',
        { body: { items: [item] }, idempotencyKey: 'k1', user: null },
        401,
        'UNAUTHENTICATED',
      ],
      [
        'no token',
        '/orders',
        { body: { items: [item] }, idempotencyKey: 'k1', authorization: null },
        401,
        'UNAUTHENTICATED',
      ],
      ['no items', '/orders', { body: { items: [] }, idempotencyKey: 'k2' }, 400, 'VALIDATION_FAILED'],
      ['21 lines', '/orders', { body: { items: many }, idempotencyKey: 'k3' }, 400, 'VALIDATION_FAILED'],
      [
        'quantity 0',
        '/orders',
        { body: { items: [{ sku: 'TEA-001', quantity: 0 }] }, idempotencyKey: 'k4' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'quantity 101',
        '/orders',
        { body: { items: [{ sku: 'TEA-001', quantity: 101 }] }, idempotencyKey: 'k5' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'quantity 1.5',
        '/orders',
        { body: { items: [{ sku: 'TEA-001', quantity: 1.5 }] }, idempotencyKey: 'k6' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'a SKU twice',
        '/orders',
        { body: { items: [item, item] }, idempotencyKey: 'k7' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'an unknown field',
        '/orders',
        { body: { items: [item], priceMinor: 1 }, idempotencyKey: 'k8' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        'a price in a line',
        '/orders',
        { body: { items: [{ ...item, unitPriceMinor: 1 }] }, idempotencyKey: 'k9' },
        400,
        'VALIDATION_FAILED',
      ],
      ['malformed JSON', '/orders', { raw: '{"items": [', idempotencyKey: 'k10' }, 400, 'MALFORMED_JSON'],
      [
        'a non-JSON body',
        '/orders',
        { raw: 'items=1', contentType: 'text/plain', idempotencyKey: 'k11' },
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      ['an order id that is not a UUID', '/orders/42', {}, 404, 'ORDER_NOT_FOUND'],
      [
        'reading without an end user',
        '/orders/00000000-0000-4000-8000-000000000000',
        { user: null },
        401,
        'UNAUTHENTICATED',
      ],
      ['an unknown status', '/orders?status=SHIPPED', {}, 400, 'VALIDATION_FAILED'],
      ['limit 0', '/orders?limit=0', {}, 400, 'VALIDATION_FAILED'],
      ['a forged cursor', '/orders?cursor=abc', {}, 400, 'INVALID_CURSOR'],
      ['listing without an end user', '/orders', { user: null }, 401, 'UNAUTHENTICATED'],
    ];
    for (const [what, path, options, status, code] of cases) {
      const res = await shop.call(path, options);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.error.code, 'string', what);
      if (code !== '') assert.equal(res.body.error.code, code, what);
      assert.equal(typeof res.body.error.message, 'string', what);
      assert.equal(typeof res.body.error.retryable, 'boolean', what);
    }
    assert.equal(await countOrders(), before);
  });
});
