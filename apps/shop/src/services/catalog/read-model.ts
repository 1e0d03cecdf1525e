// The catalog's read model, built from the monolith's ProductChanged events (full states; the
// latest `updatedAt` wins, so an older event arriving late never overwrites a newer state).
import type { EventBus } from '@flotilla/events';
import type { Tx } from '@flotilla/store';
import { ProductChanged, type ProductView } from '../../contracts/legacy-events.js';
import type { CatalogDb } from './db.js';

/** Stores a product's state unless a newer one is already there. */
export async function applyProductChanged(tx: Tx<CatalogDb>, product: ProductView): Promise<void> {
  const row = {
    sku: product.sku,
    name: product.name,
    description: product.description,
    category: product.category,
    price_minor: product.priceMinor,
    currency: product.currency,
    updated_at: Date.parse(product.updatedAt),
  };
  await tx
    .insertInto('products')
    .values(row)
    .onConflict((oc) =>
      oc
        .column('sku')
        .doUpdateSet((eb) => ({
          name: eb.ref('excluded.name'),
          description: eb.ref('excluded.description'),
          category: eb.ref('excluded.category'),
          price_minor: eb.ref('excluded.price_minor'),
          currency: eb.ref('excluded.currency'),
          updated_at: eb.ref('excluded.updated_at'),
        }))
        .where('products.updated_at', '<=', (eb) => eb.ref('excluded.updated_at')),
    )
    .execute();
}

/**
 * Subscribes the read model to ProductChanged (group 'catalog', from the beginning of the
 * retained history, so a fresh catalog backfills every product); call before `bus.start()`.
 */
export function subscribeReadModel(bus: EventBus<CatalogDb>): void {
  bus.subscribe({
    group: 'catalog',
    events: [ProductChanged],
    startAt: 'beginning',
    handler: (event, { tx }) => applyProductChanged(tx, event.data),
  });
}
