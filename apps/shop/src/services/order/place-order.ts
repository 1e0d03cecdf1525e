// Placing an order: idempotent per (customer, Idempotency-Key), priced by the catalogue, then ONE
// transaction writes the order (PENDING), starts its fulfillment saga and publishes OrderCreated.
import { createHash, randomUUID } from 'node:crypto';
import type { ServiceClient, TraceContext } from '@flotilla/service';
import { ServiceError } from '@flotilla/service';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { OrderAccepted, PlaceOrderRequest } from '../../contracts/order-api.js';
import { OrderCreated } from '../../contracts/order-events.js';
import type { OrderDb } from './db.js';
import type { OrderDeps } from './order-deps.js';
import { priceItems } from './pricing.js';

/** A client's Idempotency-Key: 1 to 200 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** What placing an order needs from the request. */
export interface PlaceOrderInput {
  readonly customerId: string;
  /** The request's `Idempotency-Key` header (required). */
  readonly idempotencyKey: string | undefined;
  readonly items: PlaceOrderRequest['items'];
  /** The catalogue (legacy) client bound to the request. */
  readonly catalogue: ServiceClient;
  readonly trace: TraceContext;
  readonly signal: AbortSignal;
}

/**
 * Accepts an order and starts its fulfillment. The same key and items again answer the same
 * body without writing anything; the same key with other items is 409 `IDEMPOTENCY_KEY_REUSED`.
 * Unknown SKUs are 422 `UNKNOWN_PRODUCT` before anything is written.
 */
export async function placeOrder(
  deps: OrderDeps,
  input: PlaceOrderInput,
): Promise<z.infer<typeof OrderAccepted>> {
  const key = input.idempotencyKey;
  if (key === undefined || key === '')
    throw new ServiceError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'the Idempotency-Key header is required', {
      retryable: false,
    });
  if (!IDEMPOTENCY_KEY.test(key))
    throw new ServiceError(
      400,
      'IDEMPOTENCY_KEY_INVALID',
      'the Idempotency-Key header must be 1 to 200 visible ASCII characters',
      { retryable: false },
    );
  const hash = requestHash(input.items);
  const replay = await previous(deps.store.db, input.customerId, key, hash);
  if (replay !== undefined) return replay;

  const priced = await priceItems(input.catalogue, input.items, { signal: input.signal });
  const orderId = randomUUID();
  const now = deps.now();
  return deps.store.transaction(async (tx) => {
    const inserted = await tx
      .insertInto('orders')
      .values({
        id: orderId,
        customer_id: input.customerId,
        status: 'PENDING',
        reason: null,
        items: JSON.stringify(priced.lines),
        total_minor: priced.totalMinor,
        currency: priced.currency,
        idempotency_key: key,
        request_hash: hash,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['customer_id', 'idempotency_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted === undefined) {
      // A concurrent request with the same key won the race: answer as a replay of it.
      const winner = await previous(tx, input.customerId, key, hash);
      if (winner === undefined) throw new Error('an order with this idempotency key vanished');
      return winner;
    }
    const data = {
      orderId,
      customerId: input.customerId,
      items: [...priced.lines],
      totalMinor: priced.totalMinor,
      currency: priced.currency,
    };
    await deps.runner.start(tx, deps.saga, data, { id: orderId, trace: input.trace });
    await deps.bus.publish(tx, OrderCreated, {
      subject: orderId,
      id: `${orderId}:created`,
      trace: input.trace,
      data,
    });
    return { orderId, status: 'PENDING' as const };
  });
}

/** The answer to a request already made with this key, or 409 if the key was used for other items. */
async function previous(
  db: Kysely<OrderDb>,
  customerId: string,
  key: string,
  hash: string,
): Promise<z.infer<typeof OrderAccepted> | undefined> {
  const row = await db
    .selectFrom('orders')
    .select(['id', 'request_hash'])
    .where('customer_id', '=', customerId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  if (row.request_hash !== hash)
    throw new ServiceError(
      409,
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was already used for an order with other items',
      { details: { orderId: row.id }, retryable: false },
    );
  return { orderId: row.id, status: 'PENDING' };
}

/** sha256 of the items in SKU order (the lines are a set: their order does not make another request). */
function requestHash(items: PlaceOrderInput['items']): string {
  const canonical = [...items]
    .sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
    .map((i) => [i.sku, i.quantity]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
