// The shop's invariants, checked after a chaos run once every fault has healed. Each names the
// ids that break it. `checkShop` is pure (state + history in, verdicts out); `shopChecker` reads
// the state through the services' APIs and applies it.
import type { ChaosChecker, ChaosViolation, InvariantResult } from 'flotilla';
import type { ShopState } from './shop-state.js';
import { readShopState } from './shop-state.js';
import type { ShopChaosHistory } from './workload.js';

/** Reservation states that hold stock (reserved units). */
const HOLDING = new Set(['PENDING', 'CONFIRMED']);

const list = (ids: readonly string[]): string => ids.join(', ');

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}

/**
 * Checks the shop's five invariants against its state and the workload's history:
 * 1. `orders-settled`: every accepted order exists and is CONFIRMED or CANCELLED (none lost or
 *    stuck PENDING), and so is every other order; an order meant to be declined is CANCELLED.
 * 2. `money-and-goods`: a CONFIRMED order has exactly one CAPTURED payment of its total and one
 *    shipment; a CANCELLED one has charged − refunded = 0, no shipment, and no reservation
 *    still holding stock.
 * 3. `stock-conserved`: for every SKU, initial = available + reserved + committed, reserved
 *    equals the units of its held reservations and committed those of its committed ones.
 * 4. `no-duplicate-effects`: at most one reservation, one payment and one shipment per order, at
 *    most one notification per (order, kind), and no effect for an order that does not exist.
 * 5. `nothing-stuck`: no dead letter in any consumer, no saga stuck.
 */
export function checkShop(state: ShopState, history: ShopChaosHistory): InvariantResult[] {
  const orders = new Map(state.orders.map((o) => [o.id, o]));
  const paymentsOf = groupBy(state.payments, (p) => p.orderId);
  const reservationsOf = groupBy(state.reservations, (r) => r.orderId);
  const shipmentsOf = groupBy(state.shipments, (s) => s.orderId);

  // 1. Every order settles; nothing accepted is lost.
  const settled: ChaosViolation[] = [];
  for (const accepted of history.orders) {
    const order = orders.get(accepted.orderId);
    if (order === undefined)
      settled.push({
        message: `order ${accepted.orderId} of ${accepted.customerId} was accepted (202) but the order service does not have it`,
        ids: [accepted.orderId],
      });
    else if (order.customerId !== accepted.customerId)
      settled.push({
        message: `order ${order.id} was accepted for ${accepted.customerId} but belongs to ${order.customerId}`,
        ids: [order.id],
      });
    else if (accepted.intent === 'declined' && order.status === 'CONFIRMED')
      settled.push({
        message: `order ${order.id} (only ${accepted.items[0]?.sku}, always declined) is CONFIRMED`,
        ids: [order.id],
      });
  }
  for (const order of state.orders)
    if (order.status !== 'CONFIRMED' && order.status !== 'CANCELLED') {
      const saga = state.pendingSagas.find((s) => s.id === order.id);
      settled.push({
        message: `order ${order.id} is still ${order.status}${saga === undefined ? '' : ` (saga ${saga.state}, ${saga.direction} at ${saga.step ?? '-'}, attempt ${saga.attempt})`}`,
        ids: [order.id],
      });
    }

  // 2. Money and goods match each order's outcome.
  const matched: ChaosViolation[] = [];
  for (const order of state.orders) {
    const payments = paymentsOf.get(order.id) ?? [];
    const shipments = shipmentsOf.get(order.id) ?? [];
    const reservations = reservationsOf.get(order.id) ?? [];
    const paymentIds = payments.map((p) => `${p.paymentId} ${p.status} ${p.amountMinor}`);
    if (order.status === 'CONFIRMED') {
      const captured = payments.filter((p) => p.status === 'CAPTURED');
      if (captured.length !== 1 || captured[0]?.amountMinor !== order.totalMinor)
        matched.push({
          message: `order ${order.id} is CONFIRMED (total ${order.totalMinor}) with ${captured.length} captured payment(s): [${list(paymentIds)}]`,
          ids: [order.id, ...payments.map((p) => p.paymentId)],
        });
      if (shipments.length !== 1)
        matched.push({
          message: `order ${order.id} is CONFIRMED with ${shipments.length} shipment(s)${shipments.length === 0 ? '' : `: [${list(shipments.map((s) => s.shipmentId))}]`}`,
          ids: [order.id, ...shipments.map((s) => s.shipmentId)],
        });
    } else if (order.status === 'CANCELLED') {
      const net = payments.reduce((sum, p) => sum + p.chargedMinor - p.refundedMinor, 0);
      if (net !== 0)
        matched.push({
          message: `order ${order.id} is CANCELLED (${order.reason ?? 'no reason'}) but keeps ${net} of the customer's money: [${list(paymentIds)}]`,
          ids: [order.id, ...payments.map((p) => p.paymentId)],
        });
      if (shipments.length > 0)
        matched.push({
          message: `order ${order.id} is CANCELLED but was shipped: [${list(shipments.map((s) => s.shipmentId))}]`,
          ids: [order.id, ...shipments.map((s) => s.shipmentId)],
        });
      const holding = reservations.filter((r) => HOLDING.has(r.status) || r.status === 'COMMITTED');
      if (holding.length > 0)
        matched.push({
          message: `order ${order.id} is CANCELLED but holds stock: [${list(holding.map((r) => `${r.reservationId} ${r.status}`))}]`,
          ids: [order.id, ...holding.map((r) => r.reservationId)],
        });
    }
  }

  // 3. Stock is conserved and agrees with the reservations.
  const conserved: ChaosViolation[] = [];
  const held = new Map<string, number>();
  const committed = new Map<string, number>();
  for (const r of state.reservations) {
    const bucket = HOLDING.has(r.status) ? held : r.status === 'COMMITTED' ? committed : undefined;
    if (bucket === undefined) continue;
    for (const line of r.items) bucket.set(line.sku, (bucket.get(line.sku) ?? 0) + line.quantity);
  }
  for (const s of state.stock) {
    if (s.initial !== s.available + s.reserved + s.committed)
      conserved.push({
        message: `${s.sku}: initial ${s.initial} ≠ available ${s.available} + reserved ${s.reserved} + committed ${s.committed}`,
        ids: [s.sku],
      });
    const heldUnits = held.get(s.sku) ?? 0;
    const committedUnits = committed.get(s.sku) ?? 0;
    if (s.reserved !== heldUnits || s.committed !== committedUnits)
      conserved.push({
        message: `${s.sku}: counters say reserved ${s.reserved}, committed ${s.committed}; reservations hold ${heldUnits} and committed ${committedUnits}`,
        ids: [s.sku],
      });
  }

  // 4. Every effect happened once, for an order that exists.
  const duplicates: ChaosViolation[] = [];
  const once = <T>(what: string, groups: Map<string, T[]>, idOf: (item: T) => string): void => {
    for (const [orderId, items] of groups) {
      if (items.length > 1)
        duplicates.push({
          message: `order ${orderId} has ${items.length} ${what}s: [${list(items.map(idOf))}]`,
          ids: [orderId, ...items.map(idOf)],
        });
      if (!orders.has(orderId))
        duplicates.push({
          message: `${what} [${list(items.map(idOf))}] belongs to order ${orderId}, which does not exist`,
          ids: [orderId, ...items.map(idOf)],
        });
    }
  };
  once('reservation', reservationsOf, (r) => r.reservationId);
  once('payment', paymentsOf, (p) => p.paymentId);
  once('shipment', shipmentsOf, (s) => s.shipmentId);
  for (const [orderId, notes] of groupBy(state.notifications, (n) => n.orderId)) {
    if (!orders.has(orderId))
      duplicates.push({
        message: `notification [${list(notes.map((n) => n.notificationId))}] belongs to order ${orderId}, which does not exist`,
        ids: [orderId, ...notes.map((n) => n.notificationId)],
      });
    for (const [kind, same] of groupBy(notes, (n) => n.kind))
      if (same.length > 1)
        duplicates.push({
          message: `order ${orderId} has ${same.length} ${kind} notifications: [${list(same.map((n) => n.notificationId))}]`,
          ids: [orderId, ...same.map((n) => n.notificationId)],
        });
  }

  // 5. Nothing waits for an operator.
  const stuck: ChaosViolation[] = [
    ...state.deadLetters.map((d) => ({
      message: `dead letter ${d.id} in ${d.service} (group ${d.group}): ${d.eventType} ${d.eventId} of ${d.subject}: ${d.error}`,
      ids: [d.id, d.eventId, d.subject],
    })),
    ...state.stuckSagas.map((s) => ({
      message: `saga ${s.id} is stuck${s.step === null ? '' : ` at ${s.step}`}`,
      ids: [s.id],
    })),
  ];

  return [
    {
      name: 'orders-settled',
      description: 'every accepted order is CONFIRMED or CANCELLED, none lost or pending',
      checked: state.orders.length,
      violations: settled,
    },
    {
      name: 'money-and-goods',
      description:
        'a confirmed order has one captured payment of its total and one shipment; a cancelled one keeps no money or stock',
      checked: state.orders.length,
      violations: matched,
    },
    {
      name: 'stock-conserved',
      description: 'per SKU, initial = available + reserved + committed, matching the reservations',
      checked: state.stock.length,
      violations: conserved,
    },
    {
      name: 'no-duplicate-effects',
      description: 'one reservation, payment and shipment per order, one notification per (order, kind)',
      checked:
        state.reservations.length +
        state.payments.length +
        state.shipments.length +
        state.notifications.length,
      violations: duplicates,
    },
    {
      name: 'nothing-stuck',
      description: 'no dead letters, no stuck sagas',
      checked: CONSUMER_COUNT,
      violations: stuck,
    },
  ];
}

/** Services whose dead letters are read, plus the saga runner. */
const CONSUMER_COUNT = 5;

/** The shop's checker for `flotilla chaos`: reads the state through the APIs, then {@link checkShop}. */
export const shopChecker: ChaosChecker<ShopChaosHistory> = async ({ history, urls, secrets, signal }) => {
  const key = secrets.FLOTILLA_SERVICE_KEY;
  if (key === undefined) throw new Error('the system has no FLOTILLA_SERVICE_KEY secret');
  return checkShop(await readShopState(urls, key, signal), history);
};
