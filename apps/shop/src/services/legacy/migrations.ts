// The monolith's one database: catalogue, customers, its own stock and payments, and v1 orders.
import type { Migration } from '@flotilla/store';

/** The legacy service's migrations (SQL valid on SQLite and PostgreSQL). */
export const legacyMigrations: readonly Migration[] = [
  {
    id: '0001_products',
    up: [
      `create table products (
        sku text primary key,
        name text not null,
        description text not null,
        category text not null,
        price_minor integer not null check (price_minor >= 0),
        currency text not null,
        updated_at bigint not null
      )`,
    ],
  },
  {
    id: '0002_customers',
    up: [
      `create table customers (
        id text primary key,
        email text not null unique,
        name text not null,
        password_hash text not null,
        scopes text not null,
        created_at bigint not null
      )`,
    ],
  },
  {
    id: '0003_stock_payments_orders',
    up: [
      `create table stock (
        sku text primary key references products (sku),
        available integer not null check (available >= 0),
        updated_at bigint not null
      )`,
      `create table payments (
        id text primary key,
        order_id text not null,
        customer_id text not null,
        amount_minor integer not null,
        currency text not null,
        status text not null,
        created_at bigint not null
      )`,
      `create table orders (
        id text primary key,
        customer_id text not null,
        status text not null,
        items text not null,
        total_minor integer not null,
        currency text not null,
        payment_id text not null,
        created_at bigint not null
      )`,
      'create index orders_by_customer on orders (customer_id, created_at)',
    ],
  },
  {
    id: '0004_seed_runs',
    up: 'create table seed_runs (id text primary key, applied_at bigint not null)',
  },
];
