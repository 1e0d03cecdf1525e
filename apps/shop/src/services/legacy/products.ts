// The monolith's catalogue: reading products (one, a page, a batch) and changing one, which
// publishes ProductChanged in the same transaction (the catalog service builds its read model
// from these events).
import type { EventBus } from '@flotilla/events';
import { ServiceError } from '@flotilla/service';
import type { Store, Tx } from '@flotilla/store';
import type { Kysely } from 'kysely';
import { ProductChanged, type ProductView } from '../../contracts/legacy-events.js';
import type { LegacyDb, ProductsTable } from './db.js';
import { decodeCursor, encodeCursor } from './product-cursor.js';

/** A product row as the API shows it. */
export function productView(row: ProductsTable): ProductView {
  return {
    sku: row.sku,
    name: row.name,
    description: row.description,
    category: row.category,
    priceMinor: row.price_minor,
    currency: row.currency,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

const notFound = (sku: string): ServiceError =>
  new ServiceError(404, 'PRODUCT_NOT_FOUND', `no product ${sku}`, { details: { sku } });

/** One product, or 404 `PRODUCT_NOT_FOUND`. */
export async function getProduct(db: Kysely<LegacyDb>, sku: string): Promise<ProductView> {
  const row = await db.selectFrom('products').selectAll().where('sku', '=', sku).executeTakeFirst();
  if (row === undefined) throw notFound(sku);
  return productView(row);
}

/** A page of products in SKU order, after the cursor's SKU. */
export async function listProducts(
  db: Kysely<LegacyDb>,
  page: { readonly limit: number; readonly cursor: string | undefined },
): Promise<{ items: ProductView[]; nextCursor: string | null }> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  let query = db
    .selectFrom('products')
    .selectAll()
    .orderBy('sku')
    .limit(page.limit + 1);
  if (after !== undefined) query = query.where('sku', '>', after);
  const rows = await query.execute();
  const items = rows.slice(0, page.limit).map(productView);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last !== undefined ? encodeCursor(last.sku) : null,
  };
}

/** The products of `skus` that exist, in the order asked (duplicates once), and those missing. */
export async function batchProducts(
  db: Kysely<LegacyDb>,
  skus: readonly string[],
): Promise<{ items: ProductView[]; missing: string[] }> {
  const unique = [...new Set(skus)];
  const rows = await db.selectFrom('products').selectAll().where('sku', 'in', unique).execute();
  const bySku = new Map(rows.map((r) => [r.sku, r]));
  const items: ProductView[] = [];
  const missing: string[] = [];
  for (const sku of unique) {
    const row = bySku.get(sku);
    if (row === undefined) missing.push(sku);
    else items.push(productView(row));
  }
  return { items, missing };
}

/** Publishes a product's full state (within the transaction that wrote it). */
export async function publishProductChanged(
  bus: EventBus<LegacyDb>,
  tx: Tx<LegacyDb>,
  product: ProductView,
): Promise<void> {
  await bus.publish(tx, ProductChanged, { subject: product.sku, data: product });
}

/** A change of a product (`PUT /admin/products/:sku`). */
export interface ProductPatch {
  readonly priceMinor: number;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly category?: string | undefined;
}

/**
 * Changes a product and publishes ProductChanged in the same transaction. A patch that changes
 * nothing publishes nothing (and keeps `updatedAt`). 404 `PRODUCT_NOT_FOUND` when unknown.
 */
export async function updateProduct(
  deps: { readonly store: Store<LegacyDb>; readonly bus: EventBus<LegacyDb>; readonly now: () => number },
  sku: string,
  patch: ProductPatch,
): Promise<ProductView> {
  return deps.store.transaction(async (tx) => {
    const row = await tx.selectFrom('products').selectAll().where('sku', '=', sku).executeTakeFirst();
    if (row === undefined) throw notFound(sku);
    const next: ProductsTable = {
      ...row,
      price_minor: patch.priceMinor,
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      category: patch.category ?? row.category,
    };
    const changed =
      next.price_minor !== row.price_minor ||
      next.name !== row.name ||
      next.description !== row.description ||
      next.category !== row.category;
    if (!changed) return productView(row);
    // Strictly later than the previous version, so "latest updatedAt wins" holds for consumers
    // even when two changes land within one millisecond.
    next.updated_at = Math.max(deps.now(), row.updated_at + 1);
    await tx
      .updateTable('products')
      .set({
        price_minor: next.price_minor,
        name: next.name,
        description: next.description,
        category: next.category,
        updated_at: next.updated_at,
      })
      .where('sku', '=', sku)
      .execute();
    const view = productView(next);
    await publishProductChanged(deps.bus, tx, view);
    return view;
  });
}
