// The notification service: the emails the shop sends, kept in a local mail sink.
//
// Consumes OrderConfirmed, OrderCancelled and ShipmentDispatched (group 'notification') and
// records one email per (order, kind) with its subject and body; the inbox and a unique
// constraint make a redelivered event harmless.
//
// Routes (service token required):
//   GET /notifications      ?orderId&limit&cursor → 200 { items, nextCursor }: the end user's own
//                           notifications (another customer's order: an empty list, never 404);
//                           401 UNAUTHENTICATED without an end user
//   GET /notifications/all  ?kind&limit&cursor → 200: every notification, newest first, for the
//                           chaos checker and the console; 403 FORBIDDEN on behalf of an end user
//   Both: 400 VALIDATION_FAILED / INVALID_CURSOR.
//   GET /events/stats, GET /dead-letters[/:id], POST /dead-letters/:id/replay|discard
//                           the event bus's operator routes (platform/audit.ts; 403 for end users)
import type { EventBus } from '@flotilla/events';
import { defineService, type RequestContext, type Service, ServiceError } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import {
  AllNotificationsQuery,
  NotificationPage,
  NotificationQuery,
} from '../../contracts/notification-api.js';
import { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import { ShipmentDispatched } from '../../contracts/shipping-events.js';
import { busAdminRoutes } from '../../platform/audit.js';
import { openPlatform } from '../../platform/runtime.js';
import {
  type ComposedMessage,
  orderCancelledMessage,
  orderConfirmedMessage,
  shipmentDispatchedMessage,
} from './compose-message.js';
import type { NotificationDb } from './db.js';
import { notificationMigrations } from './migrations.js';
import { listNotifications } from './notification-view.js';
import { recordNotification } from './record-notification.js';

/** What the notification service's setup builds. */
export interface NotificationDeps {
  readonly store: Store<NotificationDb>;
  readonly bus: EventBus<NotificationDb>;
}

/** Options of {@link createNotificationService} (tests). */
export interface NotificationServiceOptions {
  /**
   * Wall clock in epoch ms (the notifications' times).
   * @default Date.now
   */
  readonly now?: () => number;
}

/**
 * Defines the notification service. Each call makes a new definition.
 *
 * @example
 * const running = await startForTest(createNotificationService(), { env });
 */
export function createNotificationService(
  options: NotificationServiceOptions = {},
): Service<NotificationDeps> {
  const now = options.now ?? Date.now;
  const service = defineService<NotificationDeps>({
    name: 'notification',
    version: '1.0.0',
    info: async ({ bus }) => ({ queues: { outbox: (await bus.stats()).outbox.backlog } }),
    setup: async (ctx) => {
      const { store, bus } = await openPlatform<NotificationDb>(ctx, notificationMigrations);
      bus.subscribe({
        group: 'notification',
        events: [OrderConfirmed, OrderCancelled, ShipmentDispatched],
        startAt: 'beginning',
        handler: async (event, { tx }) => {
          let message: ComposedMessage;
          switch (event.type) {
            case 'OrderConfirmed':
              message = orderConfirmedMessage(event.data);
              break;
            case 'OrderCancelled':
              message = orderCancelledMessage(event.data);
              break;
            case 'ShipmentDispatched':
              message = shipmentDispatchedMessage(event.data);
              break;
            default:
              event satisfies never;
              return;
          }
          await recordNotification(tx, {
            orderId: event.data.orderId,
            customerId: event.data.customerId,
            eventId: event.id,
            message,
            now: now(),
          });
        },
      });
      await bus.start();
      return { store, bus };
    },
  })
    .route({
      method: 'GET',
      path: '/notifications',
      summary: "The end user's own notifications, newest first (?orderId&limit&cursor); never 404.",
      query: NotificationQuery,
      response: NotificationPage,
      handler: ({ query }, ctx) =>
        listNotifications(ctx.deps.store.db, {
          customerId: customerOf(ctx),
          orderId: query.orderId,
          limit: query.limit,
          cursor: query.cursor,
        }),
    })
    .route({
      method: 'GET',
      path: '/notifications/all',
      summary: 'Every notification, newest first (?kind&limit&cursor), for operators; 403 for end users.',
      query: AllNotificationsQuery,
      response: NotificationPage,
      handler: ({ query }, ctx) => {
        if (ctx.user !== undefined)
          throw new ServiceError(403, 'FORBIDDEN', 'the whole mail sink is for operators, not end users', {
            retryable: false,
          });
        return listNotifications(ctx.deps.store.db, {
          kind: query.kind,
          limit: query.limit,
          cursor: query.cursor,
        });
      },
    });
  // The event bus's routes for operators and the chaos checker (platform/audit.ts).
  for (const route of busAdminRoutes<NotificationDeps>()) service.route(route);
  return service;
}

/** The end user the request is made for; 401 when the service token carries none. */
function customerOf(ctx: RequestContext<NotificationDeps>): string {
  if (ctx.user === undefined)
    throw new ServiceError(401, 'UNAUTHENTICATED', "a customer's notifications are read on their behalf", {
      retryable: false,
    });
  return ctx.user.id;
}

/** The notification service as `main.ts` runs it. */
export const notificationService: Service<NotificationDeps> = createNotificationService();
