// Kysely table types of the inventory database (see migrations.ts).
import type { IdempotencyTables } from '@flotilla/saga';

/**
 * Stock of one SKU. Every unit is in exactly one bucket, so `initial = available + reserved +
 * committed` always holds: reservations move units from available to reserved, releases and
 * expiries back, commits from reserved to committed (they left the warehouse).
 */
export interface StockTable {
  sku: string;
  initial: number;
  available: number;
  reserved: number;
  committed: number;
  updated_at: number;
}

/** A reservation of stock for one order. */
export interface ReservationsTable {
  id: string;
  order_id: string;
  /** The customer, when the caller said (the reservation is then shown to them only). */
  customer_id: string | null;
  /** JSON array of `{ sku, quantity }`, merged per SKU, in SKU order. */
  items: string;
  /** One of `ReservationStatus`. */
  status: string;
  /** Epoch ms after which a PENDING reservation is expired by the job. */
  expires_at: number;
  created_at: number;
  updated_at: number;
}

/** Seeds applied once per database. */
export interface SeedRunsTable {
  id: string;
  applied_at: number;
}

/** The inventory database. */
export interface InventoryDb extends IdempotencyTables {
  stock: StockTable;
  reservations: ReservationsTable;
  seed_runs: SeedRunsTable;
}
