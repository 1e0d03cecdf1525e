// Stock per SKU: initialised from the shop's seed on first start, read by the order view, the
// gateway's public inventory route and the chaos checker.
import { ServiceError } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { type Kysely, sql } from 'kysely';
import type { StockEntry } from '../../contracts/inventory-api.js';
import { seedProducts } from '../../seed/index.js';
import type { InventoryDb } from './db.js';

const SEED_ID = 'shop-seed-v1';

/** Puts the seed's initial stock in place once; resolves with whether this call did it. */
export async function seedStock(store: Store<InventoryDb>, now: number): Promise<boolean> {
  return store.transaction(async (tx) => {
    const { rows } = await sql<{
      id: string;
    }>`insert into seed_runs (id, applied_at) values (${SEED_ID}, ${now}) on conflict (id) do nothing returning id`.execute(
      tx,
    );
    if (rows.length === 0) return false;
    for (const p of seedProducts) {
      await tx
        .insertInto('stock')
        .values({
          sku: p.sku,
          initial: p.initialStock,
          available: p.initialStock,
          reserved: 0,
          committed: 0,
          updated_at: now,
        })
        .execute();
    }
    return true;
  });
}

/** One SKU's stock, or 404 `SKU_NOT_FOUND`. */
export async function stockOf(
  db: Kysely<InventoryDb>,
  sku: string,
): Promise<{ sku: string; available: number; reserved: number }> {
  const row = await db
    .selectFrom('stock')
    .select(['sku', 'available', 'reserved'])
    .where('sku', '=', sku)
    .executeTakeFirst();
  if (row === undefined)
    throw new ServiceError(404, 'SKU_NOT_FOUND', `no stock is kept for ${sku}`, { details: { sku } });
  return row;
}

/** Every SKU with its conservation counters, in SKU order. */
export async function allStock(db: Kysely<InventoryDb>): Promise<StockEntry[]> {
  return db
    .selectFrom('stock')
    .select(['sku', 'initial', 'available', 'reserved', 'committed'])
    .orderBy('sku')
    .execute();
}
