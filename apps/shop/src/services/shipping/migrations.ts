// The shipping service's schema, as data (valid on SQLite and PostgreSQL).
import type { Migration } from '@flotilla/store';

/** The shipping service's own migrations, ascending ids. */
export const shippingMigrations: readonly Migration[] = [
  {
    id: '0001_shipments',
    up: [
      `create table shipments (
        id text primary key,
        order_id text not null,
        customer_id text not null,
        carrier text not null,
        tracking_number text not null,
        status text not null,
        created_at bigint not null,
        dispatched_at bigint
      )`,
      'create unique index shipments_order on shipments (order_id)',
      'create index shipments_due on shipments (status, created_at)',
      'create index shipments_by_customer on shipments (customer_id, created_at, id)',
      'create index shipments_by_time on shipments (created_at, id)',
    ],
  },
];
