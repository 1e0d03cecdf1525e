// Inventory's reactions to the order's life (group 'inventory'): OrderConfirmed keeps the
// reservation (no more expiry), ShipmentCreated lets the stock leave, OrderCancelled gives it
// back. Each runs in the inbox transaction, so a redelivered event changes nothing.
import type { EventBus } from '@flotilla/events';
import type { Logger } from 'pino';
import { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import { ShipmentCreated } from '../../contracts/shipping-events.js';
import type { InventoryDb } from './db.js';
import { commitForOrder, confirmForOrder, type EventEffect, releaseForOrder } from './reservations.js';

/** Subscribes inventory to the order and shipping events; call before `bus.start()`. */
export function subscribeToOrderEvents(
  bus: EventBus<InventoryDb>,
  options: { readonly now: () => number; readonly log: Pick<Logger, 'warn' | 'error' | 'debug'> },
): void {
  const { now, log } = options;
  bus.subscribe({
    group: 'inventory',
    events: [OrderConfirmed, ShipmentCreated, OrderCancelled],
    // A new inventory database on an existing bus replays history harmlessly (no reservation → nothing).
    startAt: 'beginning',
    handler: async (event, { tx }) => {
      const orderId = event.data.orderId;
      let effect: EventEffect;
      switch (event.type) {
        case 'OrderConfirmed':
          effect = await confirmForOrder(tx, orderId, now());
          break;
        case 'ShipmentCreated':
          effect = await commitForOrder(tx, orderId, now());
          break;
        case 'OrderCancelled':
          effect = await releaseForOrder(tx, orderId, now());
          break;
        default:
          return event satisfies never;
      }
      const facts = { event: event.type, eventId: event.id, orderId, effect };
      if (effect === 'lost')
        log.error(facts, 'order confirmed after its reservation expired and the stock is gone: oversold');
      else if (effect === 'not-held') log.warn(facts, 'the reservation is no longer held; nothing to do');
      else log.debug(facts, 'reservation updated from event');
    },
  });
}
