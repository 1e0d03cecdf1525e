// The order service's schema, as data (valid on SQLite and PostgreSQL). The events and saga
// tables come from their packages and are added by the service's setup.
import type { Migration } from '@flotilla/store';

/** The order service's own migrations, ascending ids. */
export const orderMigrations: readonly Migration[] = [
  {
    id: '0001_orders',
    up: [
      `create table orders (
        id text primary key,
        customer_id text not null,
        status text not null,
        reason text,
        items text not null,
        total_minor bigint not null,
        currency text not null,
        idempotency_key text not null,
        request_hash text not null,
        created_at bigint not null,
        updated_at bigint not null
      )`,
      'create unique index orders_idempotency_key on orders (customer_id, idempotency_key)',
      'create index orders_by_customer on orders (customer_id, created_at, id)',
    ],
  },
  {
    id: '0002_fulfillment_failures',
    up: `create table fulfillment_failures (
      order_id text not null,
      step text not null,
      attempt integer not null,
      reason text not null,
      code text not null,
      detail text not null,
      uncertain integer not null,
      created_at bigint not null,
      primary key (order_id, step, attempt)
    )`,
  },
];
