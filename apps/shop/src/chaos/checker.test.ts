import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Reservation, StockEntry } from '../contracts/inventory-api.js';
import type { NotificationView } from '../contracts/notification-api.js';
import type { OrderView } from '../contracts/order-api.js';
import type { Payment } from '../contracts/payment-api.js';
import type { ShipmentView } from '../contracts/shipping-api.js';
import { checkShop } from './checker.js';
import type { ShopState } from './shop-state.js';
import type { AcceptedOrder, ShopChaosHistory } from './workload.js';

const AT = '2026-01-01T00:00:00.000Z';
const O1 = '00000000-0000-4000-8000-000000000001';
const O2 = '00000000-0000-4000-8000-000000000002';

const order = (id: string, status: OrderView['status'], extra: Partial<OrderView> = {}): OrderView => ({
  id,
  customerId: 'cus-0001',
  status,
  items: [{ sku: 'TEA-001', quantity: 2, unitPriceMinor: 1290 }] as OrderView['items'],
  totalMinor: 2580,
  currency: 'EUR',
  createdAt: AT,
  updatedAt: AT,
  ...extra,
});
const payment = (id: string, orderId: string, status: Payment['status'], amountMinor = 2580): Payment => ({
  paymentId: id,
  orderId,
  customerId: 'cus-0001',
  status,
  amountMinor,
  chargedMinor: status === 'DECLINED' ? 0 : amountMinor,
  refundedMinor: status === 'REFUNDED' ? amountMinor : 0,
  currency: 'EUR',
  declineReason: status === 'DECLINED' ? 'AMOUNT_RULE' : null,
  createdAt: AT,
  updatedAt: AT,
});
const reservation = (id: string, orderId: string, status: Reservation['status']): Reservation => ({
  reservationId: id,
  orderId,
  status,
  items: [{ sku: 'TEA-001', quantity: 2 }],
  expiresAt: AT,
  createdAt: AT,
  updatedAt: AT,
});
const shipment = (id: string, orderId: string): ShipmentView => ({
  shipmentId: id,
  orderId,
  customerId: 'cus-0001',
  carrier: 'PostFlotilla',
  trackingNumber: `T-${id}`,
  status: 'CREATED',
  createdAt: AT,
  dispatchedAt: null,
});
const notification = (id: string, orderId: string, kind: NotificationView['kind']): NotificationView => ({
  notificationId: id,
  orderId,
  customerId: 'cus-0001',
  kind,
  channel: 'email',
  subject: 's',
  body: 'b',
  eventId: `e-${id}`,
  createdAt: AT,
});
const stock = (committed: number, reserved = 0): StockEntry => ({
  sku: 'TEA-001',
  initial: 400,
  available: 400 - committed - reserved,
  reserved,
  committed,
});
const accepted = (orderId: string, extra: Partial<AcceptedOrder> = {}): AcceptedOrder => ({
  orderId,
  customerId: 'cus-0001',
  idempotencyKey: `k-${orderId}`,
  items: [{ sku: 'TEA-001', quantity: 2 }],
  intent: 'regular',
  attempts: 1,
  ...extra,
});

/** A shop where O1 was confirmed and shipped and O2 declined and cancelled: every invariant holds. */
function healthy(): { state: ShopState; history: ShopChaosHistory } {
  return {
    state: {
      orders: [order(O1, 'CONFIRMED'), order(O2, 'CANCELLED', { reason: 'PAYMENT_DECLINED' })],
      payments: [payment('p1', O1, 'CAPTURED'), payment('p2', O2, 'DECLINED')],
      reservations: [reservation('r1', O1, 'COMMITTED'), reservation('r2', O2, 'RELEASED')],
      stock: [stock(2)],
      shipments: [shipment('s1', O1)],
      notifications: [notification('n1', O1, 'ORDER_CONFIRMED'), notification('n2', O2, 'ORDER_CANCELLED')],
      deadLetters: [],
      stuckSagas: [],
      pendingSagas: [],
    },
    history: { orders: [accepted(O1), accepted(O2)], unknown: [], retries: 0 },
  };
}

const violationsOf = (state: ShopState, history: ShopChaosHistory): Record<string, string[]> =>
  Object.fromEntries(
    checkShop(state, history)
      .filter((i) => i.violations.length > 0)
      .map((i) => [i.name, i.violations.map((v) => v.message)]),
  );

describe('checkShop', () => {
  it('passes a shop where every order settled with its money, goods and messages', () => {
    const { state, history } = healthy();
    assert.deepEqual(violationsOf(state, history), {});
  });

  it('reports an accepted order that is lost and one still pending, with its saga', () => {
    const { state, history } = healthy();
    const lost = '00000000-0000-4000-8000-000000000009';
    const violations = violationsOf(
      {
        ...state,
        orders: [order(O1, 'PENDING'), state.orders[1] as OrderView],
        pendingSagas: [
          { id: O1, state: 'running', direction: 'forward', step: 'process_payment', attempt: 3 },
        ],
      },
      { ...history, orders: [...history.orders, accepted(lost)] },
    );
    assert.deepEqual(violations['orders-settled'], [
      `order ${lost} of cus-0001 was accepted (202) but the order service does not have it`,
      `order ${O1} is still PENDING (saga running, forward at process_payment, attempt 3)`,
    ]);
  });

  it('reports a duplicate payment, naming the order and both payments', () => {
    const { state, history } = healthy();
    const violations = violationsOf(
      { ...state, payments: [...state.payments, payment('p3', O1, 'CAPTURED')] },
      history,
    );
    assert.deepEqual(violations['no-duplicate-effects'], [`order ${O1} has 2 payments: [p1, p3]`]);
    assert.deepEqual(violations['money-and-goods'], [
      `order ${O1} is CONFIRMED (total 2580) with 2 captured payment(s): [p1 CAPTURED 2580, p3 CAPTURED 2580]`,
    ]);
  });

  it('reports a cancelled order that kept the money and the stock', () => {
    const { state, history } = healthy();
    const violations = violationsOf(
      {
        ...state,
        payments: [state.payments[0] as Payment, payment('p2', O2, 'CAPTURED')],
        reservations: [state.reservations[0] as Reservation, reservation('r2', O2, 'PENDING')],
        stock: [stock(2, 2)],
      },
      history,
    );
    assert.deepEqual(violations['money-and-goods'], [
      `order ${O2} is CANCELLED (PAYMENT_DECLINED) but keeps 2580 of the customer's money: [p2 CAPTURED 2580]`,
      `order ${O2} is CANCELLED but holds stock: [r2 PENDING]`,
    ]);
  });

  it('reports stock that is not conserved or disagrees with the reservations', () => {
    const { state, history } = healthy();
    const violations = violationsOf({ ...state, stock: [{ ...stock(2), available: 397 }] }, history);
    assert.deepEqual(violations['stock-conserved'], [
      'TEA-001: initial 400 ≠ available 397 + reserved 0 + committed 2',
    ]);
    const drifted = violationsOf({ ...state, stock: [stock(3)] }, history);
    assert.deepEqual(drifted['stock-conserved'], [
      'TEA-001: counters say reserved 0, committed 3; reservations hold 0 and committed 2',
    ]);
  });

  it('reports a second notification of one kind, a confirmed declined order, dead letters and stuck sagas', () => {
    const { state, history } = healthy();
    const violations = violationsOf(
      {
        ...state,
        notifications: [...state.notifications, notification('n3', O1, 'ORDER_CONFIRMED')],
        deadLetters: [
          {
            service: 'shipping',
            id: 'd1',
            group: 'shipping',
            eventId: 'e9',
            eventType: 'OrderConfirmed',
            subject: O1,
            error: 'boom',
          },
        ],
        stuckSagas: [{ id: O2, step: 'process_payment' }],
      },
      { ...history, orders: [accepted(O1, { intent: 'declined' }), accepted(O2)] },
    );
    assert.deepEqual(violations['no-duplicate-effects'], [
      `order ${O1} has 2 ORDER_CONFIRMED notifications: [n1, n3]`,
    ]);
    assert.deepEqual(violations['orders-settled'], [
      `order ${O1} (only TEA-001, always declined) is CONFIRMED`,
    ]);
    assert.deepEqual(violations['nothing-stuck'], [
      `dead letter d1 in shipping (group shipping): OrderConfirmed e9 of ${O1}: boom`,
      `saga ${O2} is stuck at process_payment`,
    ]);
  });
});
