// The HTTP API of the notification service (the gateway's /api/v2/notifications, the chaos
// checker, the console). Nothing here belongs to another service.
import { z } from 'zod';

/** What a notification is about: one of each per order at most. */
export const NotificationKind = z.enum(['ORDER_CONFIRMED', 'ORDER_CANCELLED', 'SHIPMENT_DISPATCHED']);

/** A message in the local mail sink (the shop sends no real email). */
export const NotificationView = z.object({
  notificationId: z.string().min(1),
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  kind: NotificationKind,
  channel: z.literal('email'),
  subject: z.string().min(1),
  body: z.string().min(1),
  /** The event it was written for. */
  eventId: z.string().min(1),
  createdAt: z.iso.datetime(),
});

/**
 * Query of `GET /notifications`: the caller's own notifications (an end user is required),
 * optionally of one order; another customer's order gives an empty list, never a 404.
 */
export const NotificationQuery = z.strictObject({
  orderId: z.string().min(1).max(100).optional(),
  /** Page size. @default 50 */
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(200).optional(),
});

/** Query of `GET /notifications/all` (operators: a service token without an end user). */
export const AllNotificationsQuery = z.strictObject({
  kind: NotificationKind.optional(),
  /** Page size. @default 100 */
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(200).optional(),
});

/** A page of notifications, newest first; `nextCursor` is null on the last page. */
export const NotificationPage = z.object({
  items: z.array(NotificationView),
  nextCursor: z.string().nullable(),
});

/**
 * Error codes of the notification API:
 * - 400 `VALIDATION_FAILED`, `INVALID_CURSOR`
 * - 401 `UNAUTHENTICATED` (no service token; `GET /notifications` without an end user)
 * - 403 `FORBIDDEN` (`GET /notifications/all` on behalf of an end user)
 */
export const NotificationErrorCode = z.enum([
  'VALIDATION_FAILED',
  'INVALID_CURSOR',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);

/** A notification as the API shows it. */
export type NotificationView = z.infer<typeof NotificationView>;
/** A page of notifications. */
export type NotificationPage = z.infer<typeof NotificationPage>;
/** One kind of notification. */
export type NotificationKind = z.infer<typeof NotificationKind>;
