/**
 * legacy — the monolith being strangled. One database holds the catalogue, the customers, the
 * monolith's own stock and payments, and the old v1 orders. It is seeded from the shop's seed on
 * first start (products, stock, demo customers), publishing a ProductChanged per product, and
 * publishes one again whenever a product changes; the catalog service builds its read model from
 * them while the gateway moves `GET /products/:sku` over. Later starts publish every product's
 * state again, so the retained history a fresh catalog backfills from is always complete.
 *
 * Routes (all called through the gateway with a service token; errors in the standard shape):
 * - `POST /login` {email, password} → 200 {token, tokenType, expiresInSeconds}: an HS256 end-user
 *   JWT (`iss` flotilla-shop, `sub` customer id, `scope` "orders:read orders:write" (+
 *   "catalog:write" for staff), 1 h) signed with FLOTILLA_JWT_SECRET; 401 INVALID_CREDENTIALS.
 * - `GET /products?limit&cursor` → 200 {items, nextCursor}; 400 INVALID_CURSOR.
 * - `GET /products?skus=A,B` → 200 {items, missing} (batch, for pricing orders).
 * - `GET /products/:sku` → 200 product; 404 PRODUCT_NOT_FOUND.
 * - `PUT /admin/products/:sku` {priceMinor, name?, description?, category?} (end user with scope
 *   catalog:write) → 200 product, ProductChanged published; 401 UNAUTHENTICATED, 403 FORBIDDEN,
 *   404 PRODUCT_NOT_FOUND.
 * - `POST /v1/orders` {items} (end user) → 201 order: stock, payment and order in ONE
 *   transaction; 401 UNAUTHENTICATED, 402 PAYMENT_DECLINED (total ending in 13 minor units),
 *   409 OUT_OF_STOCK, 422 UNKNOWN_PRODUCT — nothing is kept on any error.
 * - `GET /v1/orders/:id` (owner only) → 200 order; 404 ORDER_NOT_FOUND.
 * - `GET /events/stats`, `GET /dead-letters[/:id]`, `POST /dead-letters/:id/replay|discard`: the
 *   event bus's operator routes (platform/audit.ts; 403 for end users).
 * Every body error is 400 VALIDATION_FAILED.
 */

import type { EventBus } from '@flotilla/events';
import { defineService, type RequestContext, type Service, ServiceError } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { z } from 'zod';
import {
  LoginRequest,
  LoginResponse,
  ProductListQuery,
  ProductListResponse,
  ProductSku,
  ProductView,
  UpdateProductRequest,
  V1Order,
  V1OrderRequest,
} from '../../contracts/legacy-api.js';
import { busAdminRoutes } from '../../platform/audit.js';
import { openPlatform } from '../../platform/runtime.js';
import type { LegacyDb } from './db.js';
import { createLogin, type Login } from './login.js';
import { legacyMigrations } from './migrations.js';
import { batchProducts, getProduct, listProducts, updateProduct } from './products.js';
import { republishCatalog, seedLegacy } from './seed-legacy.js';
import { getV1Order, placeV1Order } from './v1-orders.js';

/** The legacy service's own environment variables. */
export const legacyConfig = z.object({
  /** The HS256 secret of end-user tokens, shared with the gateway (at least 32 characters). */
  FLOTILLA_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)'),
  /** Lifetime of a login token, in seconds. */
  LEGACY_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
});

/** What the legacy service's handlers use. */
export interface LegacyDeps {
  readonly store: Store<LegacyDb>;
  readonly bus: EventBus<LegacyDb>;
  readonly login: Login;
  readonly now: () => number;
}

/** Options of {@link createLegacyService} (tests). */
export interface LegacyServiceOptions {
  /** Wall clock, epoch ms (product and order times, token times). @default Date.now */
  readonly now?: () => number;
}

function requireUser(ctx: RequestContext<LegacyDeps>): { id: string; scopes: readonly string[] } {
  if (ctx.user === undefined)
    throw new ServiceError(401, 'UNAUTHENTICATED', 'this route needs a logged-in customer');
  return ctx.user;
}

/** Builds the legacy monolith's service definition. */
export function createLegacyService(options: LegacyServiceOptions = {}): Service<LegacyDeps> {
  const now = options.now ?? Date.now;
  const service = defineService({
    name: 'legacy',
    version: '1.0.0',
    config: legacyConfig,
    setup: async (ctx): Promise<LegacyDeps> => {
      const { store, bus } = await openPlatform<LegacyDb>(ctx, legacyMigrations);
      if (await seedLegacy({ store, bus, now })) ctx.log.info('seeded products, stock and demo customers');
      else ctx.log.info({ products: await republishCatalog({ store, bus }) }, 'republished the catalogue');
      await bus.start();
      const login = await createLogin({
        store,
        secret: ctx.config.FLOTILLA_JWT_SECRET,
        ttlSeconds: ctx.config.LEGACY_TOKEN_TTL_SECONDS,
        now,
      });
      return { store, bus, login, now };
    },
  })
    .route({
      method: 'POST',
      path: '/login',
      summary: 'Logs a customer in: an end-user JWT for the gateway',
      body: LoginRequest,
      response: LoginResponse,
      handler: ({ body }, { deps }) => deps.login.login(body.email, body.password),
    })
    .route({
      method: 'GET',
      path: '/products',
      summary: 'A page of products, or a batch with ?skus=A,B',
      query: ProductListQuery,
      response: ProductListResponse,
      handler: ({ query }, { deps }) =>
        query.skus === undefined
          ? listProducts(deps.store.db, { limit: query.limit, cursor: query.cursor })
          : batchProducts(deps.store.db, query.skus),
    })
    .route({
      method: 'GET',
      path: '/products/:sku',
      summary: 'One product',
      params: z.object({ sku: ProductSku }),
      response: ProductView,
      handler: ({ params }, { deps }) => getProduct(deps.store.db, params.sku),
    })
    .route({
      method: 'PUT',
      path: '/admin/products/:sku',
      summary: 'Changes a product (staff) and publishes ProductChanged',
      params: z.object({ sku: ProductSku }),
      body: UpdateProductRequest,
      response: ProductView,
      handler: ({ params, body }, ctx) => {
        const user = requireUser(ctx);
        if (!user.scopes.includes('catalog:write'))
          throw new ServiceError(403, 'FORBIDDEN', 'changing products needs the scope catalog:write');
        return updateProduct(ctx.deps, params.sku, body);
      },
    })
    .route({
      method: 'POST',
      path: '/v1/orders',
      status: 201,
      summary: 'Places a v1 order: stock, payment and order in one transaction',
      body: V1OrderRequest,
      response: V1Order,
      handler: ({ body }, ctx) => placeV1Order(ctx.deps, requireUser(ctx).id, body.items),
    })
    .route({
      method: 'GET',
      path: '/v1/orders/:id',
      summary: "The caller's own v1 order",
      params: z.object({ id: z.string().min(1).max(100) }),
      response: V1Order,
      handler: ({ params }, ctx) => getV1Order(ctx.deps.store, requireUser(ctx).id, params.id),
    });
  for (const route of busAdminRoutes<LegacyDeps>()) service.route(route);
  return service;
}

/** The legacy service as `main.ts` runs it. */
export const legacyService: Service<LegacyDeps> = createLegacyService();
