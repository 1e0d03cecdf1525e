// Reading the mail sink: a customer's own notifications, or all of them (operators).
import type { Kysely, Selectable } from 'kysely';
import type {
  NotificationKind,
  NotificationPage,
  NotificationView,
} from '../../contracts/notification-api.js';
import { decodeCursor, encodeCursor } from '../../platform/page-cursor.js';
import type { NotificationDb, NotificationsTable } from './db.js';

/** A notification row as the API shows it. */
export function toNotificationView(row: Selectable<NotificationsTable>): NotificationView {
  return {
    notificationId: row.id,
    orderId: row.order_id,
    customerId: row.customer_id,
    kind: row.kind as NotificationKind,
    channel: 'email',
    subject: row.subject,
    body: row.body,
    eventId: row.event_id,
    createdAt: new Date(Number(row.created_at)).toISOString(),
  };
}

/** A page of notifications, newest first, filtered by customer, order and kind when given. */
export async function listNotifications(
  db: Kysely<NotificationDb>,
  query: {
    customerId?: string | undefined;
    orderId?: string | undefined;
    kind?: NotificationKind | undefined;
    limit: number;
    cursor?: string | undefined;
  },
): Promise<NotificationPage> {
  let q = db.selectFrom('notifications').selectAll();
  if (query.customerId !== undefined) q = q.where('customer_id', '=', query.customerId);
  if (query.orderId !== undefined) q = q.where('order_id', '=', query.orderId);
  if (query.kind !== undefined) q = q.where('kind', '=', query.kind);
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.createdAt),
        eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
      ]),
    );
  }
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toNotificationView),
    nextCursor:
      rows.length > query.limit && last !== undefined
        ? encodeCursor({ createdAt: Number(last.created_at), id: last.id })
        : null,
  };
}
