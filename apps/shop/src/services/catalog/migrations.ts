// The catalog's read model: one row per product, the latest state ProductChanged told.
import type { Migration } from '@flotilla/store';

/** The catalog service's migrations (SQL valid on SQLite and PostgreSQL). */
export const catalogMigrations: readonly Migration[] = [
  {
    id: '0001_products',
    up: [
      `create table products (
        sku text primary key,
        name text not null,
        description text not null,
        category text not null,
        price_minor integer not null,
        currency text not null,
        updated_at bigint not null
      )`,
    ],
  },
];
