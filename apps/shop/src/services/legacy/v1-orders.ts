// The monolith's v1 order: stock check and decrement, a simulated payment and the order row in
// ONE database transaction — simple and consistent, and bounded by what one database can do
// (the ceiling the microservice flow is benchmarked against).
import { randomUUID } from 'node:crypto';
import { ServiceError } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import type { V1Order } from '../../contracts/legacy-api.js';
import type { LegacyDb } from './db.js';

/** A requested line. */
export interface V1Line {
  readonly sku: string;
  readonly quantity: number;
}

/** The demo rule shared with the payment service: a total ending in 13 minor units is declined. */
export function declinedByRule(amountMinor: number): boolean {
  return amountMinor % 100 === 13;
}

/** Adds up the quantities of repeated SKUs; lines come back in SKU order (the lock order). */
export function mergeLines(lines: readonly V1Line[]): V1Line[] {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  return [...bySku.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => ({ sku, quantity }));
}

/**
 * Places a v1 order for `customerId`: everything commits together or nothing does.
 * Errors: 422 `UNKNOWN_PRODUCT`, 409 `OUT_OF_STOCK` (every short SKU in `details.shortages`),
 * 402 `PAYMENT_DECLINED`.
 */
export async function placeV1Order(
  deps: { readonly store: Store<LegacyDb>; readonly now: () => number },
  customerId: string,
  requested: readonly V1Line[],
): Promise<V1Order> {
  const lines = mergeLines(requested);
  const skus = lines.map((l) => l.sku);
  return deps.store.transaction(async (tx) => {
    const products = await tx
      .selectFrom('products')
      .select(['sku', 'price_minor', 'currency'])
      .where('sku', 'in', skus)
      .execute();
    const price = new Map(products.map((p) => [p.sku, p]));
    const unknown = skus.filter((s) => !price.has(s));
    if (unknown.length > 0)
      throw new ServiceError(422, 'UNKNOWN_PRODUCT', `no product ${unknown.join(', ')}`, {
        details: { skus: unknown },
      });
    const at = deps.now();
    const shortages: { sku: string; requested: number; available: number }[] = [];
    for (const line of lines) {
      // Conditional decrement: never below zero, whatever runs concurrently.
      const result = await tx
        .updateTable('stock')
        .set((eb) => ({ available: eb('available', '-', line.quantity), updated_at: at }))
        .where('sku', '=', line.sku)
        .where('available', '>=', line.quantity)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) {
        const row = await tx
          .selectFrom('stock')
          .select('available')
          .where('sku', '=', line.sku)
          .executeTakeFirst();
        shortages.push({ sku: line.sku, requested: line.quantity, available: row?.available ?? 0 });
      }
    }
    if (shortages.length > 0)
      throw new ServiceError(
        409,
        'OUT_OF_STOCK',
        `not enough stock of ${shortages.map((s) => s.sku).join(', ')}`,
        {
          details: { shortages },
        },
      );
    const items = lines.map((l) => ({ ...l, unitPriceMinor: price.get(l.sku)?.price_minor ?? 0 }));
    const totalMinor = items.reduce((sum, l) => sum + l.unitPriceMinor * l.quantity, 0);
    const currency = products[0]?.currency ?? 'EUR';
    if (declinedByRule(totalMinor))
      throw new ServiceError(
        402,
        'PAYMENT_DECLINED',
        `the payment of ${(totalMinor / 100).toFixed(2)} ${currency} was declined`,
        {
          retryable: false,
        },
      );
    const orderId = randomUUID();
    const paymentId = randomUUID();
    await tx
      .insertInto('payments')
      .values({
        id: paymentId,
        order_id: orderId,
        customer_id: customerId,
        amount_minor: totalMinor,
        currency,
        status: 'CAPTURED',
        created_at: at,
      })
      .execute();
    await tx
      .insertInto('orders')
      .values({
        id: orderId,
        customer_id: customerId,
        status: 'CONFIRMED',
        items: JSON.stringify(items),
        total_minor: totalMinor,
        currency,
        payment_id: paymentId,
        created_at: at,
      })
      .execute();
    return {
      id: orderId,
      customerId,
      status: 'CONFIRMED',
      items,
      totalMinor,
      currency,
      paymentId,
      createdAt: new Date(at).toISOString(),
    };
  });
}

/** The customer's own v1 order; 404 `ORDER_NOT_FOUND` for an unknown id or another customer's order. */
export async function getV1Order(
  store: Store<LegacyDb>,
  customerId: string,
  orderId: string,
): Promise<V1Order> {
  const row = await store.db
    .selectFrom('orders')
    .selectAll()
    .where('id', '=', orderId)
    .where('customer_id', '=', customerId)
    .executeTakeFirst();
  if (row === undefined) throw new ServiceError(404, 'ORDER_NOT_FOUND', `no order ${orderId}`);
  return {
    id: row.id,
    customerId: row.customer_id,
    status: 'CONFIRMED',
    items: JSON.parse(row.items) as V1Order['items'],
    totalMinor: row.total_minor,
    currency: row.currency,
    paymentId: row.payment_id,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
