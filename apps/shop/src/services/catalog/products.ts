// Reading the catalog: one product, a page, a batch — answering exactly what the monolith
// answers for the same state (the gateway shadows one with the other and compares).
import { ServiceError } from '@flotilla/service';
import type { Kysely } from 'kysely';
import type { ProductView } from '../../contracts/legacy-events.js';
import type { CatalogDb, ProductsTable } from './db.js';
import { decodeCursor, encodeCursor } from './product-cursor.js';

/** A read-model row as the API shows it (the monolith's product shape). */
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

/** One product, or 404 `PRODUCT_NOT_FOUND` (the monolith's code and message). */
export async function getProduct(db: Kysely<CatalogDb>, sku: string): Promise<ProductView> {
  const row = await db.selectFrom('products').selectAll().where('sku', '=', sku).executeTakeFirst();
  if (row === undefined)
    throw new ServiceError(404, 'PRODUCT_NOT_FOUND', `no product ${sku}`, { details: { sku } });
  return productView(row);
}

/** A page of products in SKU order, after the cursor's SKU. */
export async function listProducts(
  db: Kysely<CatalogDb>,
  page: { readonly limit: number; readonly cursor: string | undefined },
): Promise<{ items: ProductView[]; nextCursor: string | null }> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const rows = await db
    .selectFrom('products')
    .selectAll()
    .$if(after !== undefined, (q) => q.where('sku', '>', after as string))
    .orderBy('sku')
    .limit(page.limit + 1)
    .execute();
  const items = rows.slice(0, page.limit).map(productView);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last !== undefined ? encodeCursor(last.sku) : null,
  };
}

/** The products of `skus` that exist, in the order asked (duplicates once), and those missing. */
export async function batchProducts(
  db: Kysely<CatalogDb>,
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
