/**
 * catalog — the product catalogue extracted from the legacy monolith (strangler fig). It owns
 * no writes: its read model is built by consuming the monolith's ProductChanged events (group
 * 'catalog', startAt 'beginning', so a fresh catalog backfills every product from the retained
 * history) and answers the product routes with EXACTLY the monolith's bodies and errors, so the
 * gateway can split `GET /api/v1/products/:sku` between the two and shadow-compare them.
 *
 * Routes (service token required; errors in the standard shape):
 * - `GET /products/:sku` → 200 product {sku, name, description, category, priceMinor,
 *   currency, updatedAt}; 404 PRODUCT_NOT_FOUND; 400 VALIDATION_FAILED (malformed SKU).
 * - `GET /products?limit&cursor` → 200 {items, nextCursor}; 400 INVALID_CURSOR.
 * - `GET /products?skus=A,B` → 200 {items, missing}.
 * - `GET /events/stats`, `GET /dead-letters[/:id]`, `POST /dead-letters/:id/replay|discard`: the
 *   event bus's operator routes (platform/audit.ts; 403 for end users).
 */
import type { EventBus } from '@flotilla/events';
import { defineService, type Service } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { z } from 'zod';
import {
  CatalogListQuery,
  CatalogListResponse,
  CatalogProduct,
  CatalogSku,
} from '../../contracts/catalog-api.js';
import { busAdminRoutes } from '../../platform/audit.js';
import { openPlatform } from '../../platform/runtime.js';
import type { CatalogDb } from './db.js';
import { catalogMigrations } from './migrations.js';
import { batchProducts, getProduct, listProducts } from './products.js';
import { subscribeReadModel } from './read-model.js';

/** What the catalog service's handlers use. */
export interface CatalogDeps {
  readonly store: Store<CatalogDb>;
  readonly bus: EventBus<CatalogDb>;
}

/** Builds the catalog service's definition. */
export function createCatalogService(): Service<CatalogDeps> {
  const service = defineService({
    name: 'catalog',
    version: '1.0.0',
    setup: async (ctx): Promise<CatalogDeps> => {
      const { store, bus } = await openPlatform<CatalogDb>(ctx, catalogMigrations);
      subscribeReadModel(bus);
      await bus.start();
      return { store, bus };
    },
    info: async ({ store }) => {
      const row = await store.db
        .selectFrom('products')
        .select((eb) => eb.fn.countAll<number>().as('products'))
        .executeTakeFirstOrThrow();
      return { readModel: { products: Number(row.products) } };
    },
  })
    .route({
      method: 'GET',
      path: '/products',
      summary: 'A page of products, or a batch with ?skus=A,B',
      query: CatalogListQuery,
      response: CatalogListResponse,
      handler: ({ query }, { deps }) =>
        query.skus === undefined
          ? listProducts(deps.store.db, { limit: query.limit, cursor: query.cursor })
          : batchProducts(deps.store.db, query.skus),
    })
    .route({
      method: 'GET',
      path: '/products/:sku',
      summary: 'One product (the same body as the monolith)',
      params: z.object({ sku: CatalogSku }),
      response: CatalogProduct,
      handler: ({ params }, { deps }) => getProduct(deps.store.db, params.sku),
    });
  for (const route of busAdminRoutes<CatalogDeps>()) service.route(route);
  return service;
}

/** The catalog service as `main.ts` runs it. */
export const catalogService: Service<CatalogDeps> = createCatalogService();
