// The inventory database: stock per SKU with its conservation counters, and reservations.
import type { Migration } from '@flotilla/store';

/** The inventory service's migrations (SQL valid on SQLite and PostgreSQL). */
export const inventoryMigrations: readonly Migration[] = [
  {
    id: '0001_stock',
    up: [
      `create table stock (
        sku text primary key,
        initial integer not null check (initial >= 0),
        available integer not null check (available >= 0),
        reserved integer not null check (reserved >= 0),
        committed integer not null check (committed >= 0),
        updated_at bigint not null
      )`,
    ],
  },
  {
    id: '0002_reservations',
    up: [
      `create table reservations (
        id text primary key,
        order_id text not null unique,
        customer_id text,
        items text not null,
        status text not null,
        expires_at bigint not null,
        created_at bigint not null,
        updated_at bigint not null
      )`,
      'create index reservations_due on reservations (status, expires_at)',
    ],
  },
  {
    id: '0003_seed_runs',
    up: 'create table seed_runs (id text primary key, applied_at bigint not null)',
  },
];
