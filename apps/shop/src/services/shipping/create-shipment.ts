// Reacting to OrderConfirmed: one shipment per order, and ShipmentCreated in the same transaction.
import { randomUUID } from 'node:crypto';
import type { EventBus } from '@flotilla/events';
import type { TraceContext } from '@flotilla/service';
import type { Tx } from '@flotilla/store';
import { ShipmentCreated } from '../../contracts/shipping-events.js';
import { carrierFor } from './carrier.js';
import type { ShippingDb } from './db.js';

/**
 * Creates the shipment of a confirmed order inside the consumer's transaction `tx` and publishes
 * ShipmentCreated with it. The inbox already ignores a redelivered event; the unique order id
 * also makes a second OrderConfirmed for the same order (a republished one) a no-op.
 * Resolves with the shipment id, or `undefined` when the order already had one.
 */
export async function createShipment(
  tx: Tx<ShippingDb>,
  bus: EventBus<ShippingDb>,
  order: { orderId: string; customerId: string; now: number; trace?: TraceContext },
): Promise<string | undefined> {
  const id = randomUUID();
  const { carrier, trackingNumber } = carrierFor(order.orderId);
  const inserted = await tx
    .insertInto('shipments')
    .values({
      id,
      order_id: order.orderId,
      customer_id: order.customerId,
      carrier,
      tracking_number: trackingNumber,
      status: 'CREATED',
      created_at: order.now,
      dispatched_at: null,
    })
    .onConflict((oc) => oc.column('order_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted === undefined) return undefined;
  await bus.publish(tx, ShipmentCreated, {
    subject: order.orderId,
    id: `shipment:${id}:created`,
    trace: order.trace,
    data: { shipmentId: id, orderId: order.orderId, customerId: order.customerId, carrier, trackingNumber },
  });
  return id;
}
