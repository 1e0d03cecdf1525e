// The notification service's schema, as data (valid on SQLite and PostgreSQL).
import type { Migration } from '@flotilla/store';

/** The notification service's own migrations, ascending ids. */
export const notificationMigrations: readonly Migration[] = [
  {
    id: '0001_notifications',
    up: [
      `create table notifications (
        id text primary key,
        order_id text not null,
        customer_id text not null,
        kind text not null,
        channel text not null,
        subject text not null,
        body text not null,
        event_id text not null,
        created_at bigint not null
      )`,
      'create unique index notifications_order_kind on notifications (order_id, kind)',
      'create index notifications_by_customer on notifications (customer_id, created_at, id)',
      'create index notifications_by_time on notifications (created_at, id)',
    ],
  },
];
