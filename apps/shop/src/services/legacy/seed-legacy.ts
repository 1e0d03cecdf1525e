// First start of the monolith: products, stock and demo customers from the shop's seed, and a
// ProductChanged per product, all in one transaction. A restart (or a second instance racing
// this one) finds the seed recorded and changes nothing.
import type { EventBus } from '@flotilla/events';
import type { Store } from '@flotilla/store';
import { sql } from 'kysely';
import { demoCustomers, seedProducts } from '../../seed/index.js';
import type { LegacyDb } from './db.js';
import { hashPassword } from './passwords.js';
import { productView, publishProductChanged } from './products.js';

/** Scopes every customer's login token carries. */
export const CUSTOMER_SCOPES = ['orders:read', 'orders:write'] as const;

const SEED_ID = 'shop-seed-v1';

/** Seeds the legacy database once; resolves with whether this call did it. */
export async function seedLegacy(deps: {
  readonly store: Store<LegacyDb>;
  readonly bus: EventBus<LegacyDb>;
  readonly now: () => number;
}): Promise<boolean> {
  const { store, bus, now } = deps;
  const done = await store.db
    .selectFrom('seed_runs')
    .select('id')
    .where('id', '=', SEED_ID)
    .executeTakeFirst();
  if (done !== undefined) return false;
  // Hashing is slow on purpose; do it before taking the write lock.
  const hashes = await Promise.all(demoCustomers.map((c) => hashPassword(c.password)));
  const at = now();
  return store.transaction(async (tx) => {
    const { rows } = await sql<{
      id: string;
    }>`insert into seed_runs (id, applied_at) values (${SEED_ID}, ${at}) on conflict (id) do nothing returning id`.execute(
      tx,
    );
    if (rows.length === 0) return false;
    for (const p of seedProducts) {
      const row = {
        sku: p.sku,
        name: p.name,
        description: p.description,
        category: p.category,
        price_minor: p.priceMinor,
        currency: p.currency,
        updated_at: at,
      };
      await tx.insertInto('products').values(row).execute();
      await tx
        .insertInto('stock')
        .values({ sku: p.sku, available: p.initialStock, updated_at: at })
        .execute();
      await publishProductChanged(bus, tx, productView(row));
    }
    for (const [i, c] of demoCustomers.entries()) {
      await tx
        .insertInto('customers')
        .values({
          id: c.id,
          email: c.email.toLowerCase(),
          name: c.name,
          password_hash: hashes[i] as string,
          scopes: [...CUSTOMER_SCOPES, ...c.extraScopes].join(' '),
          created_at: at,
        })
        .execute();
    }
    return true;
  });
}

/**
 * Publishes every product's current state again. Run at each start after the first: transports
 * prune events after their retention (7 days by default), and a catalog that starts fresh later
 * must still find every product in the retained history. Consumers keep the latest `updatedAt`,
 * so the repeat changes nothing for them.
 */
export async function republishCatalog(deps: {
  readonly store: Store<LegacyDb>;
  readonly bus: EventBus<LegacyDb>;
}): Promise<number> {
  return deps.store.transaction(async (tx) => {
    const rows = await tx.selectFrom('products').selectAll().orderBy('sku').execute();
    for (const row of rows) await publishProductChanged(deps.bus, tx, productView(row));
    return rows.length;
  });
}
