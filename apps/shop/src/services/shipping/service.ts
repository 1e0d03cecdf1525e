// The shipping service: one shipment per confirmed order, dispatched by a simulated carrier.
//
// Consumes OrderConfirmed (group 'shipping'): creates the order's shipment (carrier chosen from
// the order id among three simulated carriers, a tracking number) and publishes ShipmentCreated
// in the same transaction. A dispatch job marks shipments DISPATCHED SHIPPING_DISPATCH_DELAY_MS
// after their creation and publishes ShipmentDispatched.
//
// Routes (service token required):
//   GET /shipments   ?orderId&limit&cursor → 200 { items, nextCursor }, newest first. With an end
//                    user in the token: that customer's shipments only (another customer's order
//                    gives an empty list); without one (chaos checker, console): all of them.
//                    400 VALIDATION_FAILED / INVALID_CURSOR, 401 UNAUTHENTICATED.
//   GET /events/stats, GET /dead-letters[/:id], POST /dead-letters/:id/replay|discard
//                    the event bus's operator routes (platform/audit.ts; 403 for end users).
import type { EventBus } from '@flotilla/events';
import { type Clock, systemClock } from '@flotilla/resilience';
import { defineService, type Service } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { z } from 'zod';
import { OrderConfirmed } from '../../contracts/order-events.js';
import { ShipmentPage, ShipmentQuery } from '../../contracts/shipping-api.js';
import { busAdminRoutes } from '../../platform/audit.js';
import { openPlatform } from '../../platform/runtime.js';
import { createShipment } from './create-shipment.js';
import type { ShippingDb } from './db.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { shippingMigrations } from './migrations.js';
import { listShipments } from './shipment-view.js';

/** The shipping service's environment variables. */
export const ShippingConfig = z.object({
  /** Time from a shipment's creation to its dispatch, ms. */
  SHIPPING_DISPATCH_DELAY_MS: z.coerce.number().int().min(0).max(86_400_000).default(2_000),
  /** Time between two passes of the dispatch job, ms. */
  SHIPPING_DISPATCH_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(500),
  /** Most shipments dispatched per transaction. */
  SHIPPING_DISPATCH_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
});

/** What the shipping service's setup builds. */
export interface ShippingDeps {
  readonly store: Store<ShippingDb>;
  readonly bus: EventBus<ShippingDb>;
  readonly dispatcher: Dispatcher;
}

/** Options of {@link createShippingService} (tests). */
export interface ShippingServiceOptions {
  /**
   * Timers of the dispatch job.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Wall clock in epoch ms: creation and dispatch times.
   * @default Date.now
   */
  readonly now?: () => number;
}

/**
 * Defines the shipping service. Each call makes a new definition.
 *
 * @example
 * const clock = manualClock(Date.now());
 * const running = await startForTest(createShippingService({ clock, now: clock.now }), { env });
 */
export function createShippingService(options: ShippingServiceOptions = {}): Service<ShippingDeps> {
  const clock = options.clock ?? systemClock;
  const now = options.now ?? Date.now;
  const service = defineService<ShippingDeps, typeof ShippingConfig>({
    name: 'shipping',
    version: '1.0.0',
    config: ShippingConfig,
    info: async ({ bus }) => ({ queues: { outbox: (await bus.stats()).outbox.backlog } }),
    setup: async (ctx) => {
      const { config } = ctx;
      const { store, bus } = await openPlatform<ShippingDb>(ctx, shippingMigrations);
      bus.subscribe({
        group: 'shipping',
        events: [OrderConfirmed],
        // A new group catches up with the retained history: no confirmed order goes unshipped.
        startAt: 'beginning',
        handler: async (event, { tx, trace }) => {
          await createShipment(tx, bus, {
            orderId: event.data.orderId,
            customerId: event.data.customerId,
            now: now(),
            trace,
          });
        },
      });
      const dispatcher = createDispatcher({
        store,
        bus,
        delayMs: config.SHIPPING_DISPATCH_DELAY_MS,
        intervalMs: config.SHIPPING_DISPATCH_INTERVAL_MS,
        batchSize: config.SHIPPING_DISPATCH_BATCH_SIZE,
        clock,
        now,
        log: ctx.log,
      });
      // Registered after the platform: the job stops before the bus and the store close.
      ctx.onClose(() => dispatcher.close());
      await bus.start();
      dispatcher.start();
      return { store, bus, dispatcher };
    },
  }).route({
    method: 'GET',
    path: '/shipments',
    summary:
      "Shipments, newest first: the caller's own with an end user, all without (?orderId&limit&cursor).",
    query: ShipmentQuery,
    response: ShipmentPage,
    handler: ({ query }, ctx) =>
      listShipments(ctx.deps.store.db, {
        customerId: ctx.user?.id,
        orderId: query.orderId,
        limit: query.limit,
        cursor: query.cursor,
      }),
  });
  // The event bus's routes for operators and the chaos checker (platform/audit.ts).
  for (const route of busAdminRoutes<ShippingDeps>()) service.route(route);
  return service;
}

/** The shipping service as `main.ts` runs it. */
export const shippingService: Service<ShippingDeps> = createShippingService();
