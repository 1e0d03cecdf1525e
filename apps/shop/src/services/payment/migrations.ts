// The payment database: one row per payment attempt the provider answered (captured or declined).
import type { Migration } from '@flotilla/store';

/** The payment service's migrations (SQL valid on SQLite and PostgreSQL). */
export const paymentMigrations: readonly Migration[] = [
  {
    id: '0001_payments',
    up: [
      `create table payments (
        id text primary key,
        order_id text not null,
        customer_id text not null,
        amount_minor integer not null check (amount_minor > 0),
        currency text not null,
        status text not null,
        refunded_minor integer not null default 0 check (refunded_minor >= 0),
        decline_reason text,
        idempotency_key text not null unique,
        created_at bigint not null,
        updated_at bigint not null
      )`,
      'create index payments_by_order on payments (order_id)',
    ],
  },
];
