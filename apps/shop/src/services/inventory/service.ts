/**
 * inventory — stock per SKU and reservations of it for orders. Stock is initialised from the
 * shop's seed on first start. A reservation takes every line or none (conditional updates: stock
 * never goes negative under concurrency), is PENDING until the order is confirmed (then
 * CONFIRMED, no expiry) and COMMITTED when the shipment is created (the stock leaves); a release
 * or an expiry (a job, every INVENTORY_EXPIRY_INTERVAL_MS, for PENDING reservations older than
 * INVENTORY_RESERVATION_TTL_MS) gives the stock back. For every SKU, always:
 * initial = available + reserved + committed. Idempotency keys are kept
 * SHOP_IDEMPOTENCY_RETENTION_MS (default 7 days), then pruned (every hour).
 *
 * Routes (service token required; errors in the standard shape; bad input → 400 VALIDATION_FAILED):
 * - `POST /reservations` {orderId, customerId?, items:[{sku, quantity}]}, header Idempotency-Key
 *   → 201 reservation (PENDING, expiresAt); 400 IDEMPOTENCY_KEY_REQUIRED; 409 OUT_OF_STOCK
 *   (details.shortages names every short SKU), 409 RESERVATION_EXISTS; 422 UNKNOWN_SKU,
 *   IDEMPOTENCY_KEY_REUSED. The same key answers the same response (rejections included).
 * - `POST /reservations/:id/release` → 200 reservation (RELEASED; EXPIRED/RELEASED answer as they
 *   are); 404 RESERVATION_NOT_FOUND; 409 RESERVATION_COMMITTED.
 * - `POST /reservations/:id/commit` → 200 reservation (COMMITTED); 404; 409 RESERVATION_NOT_HELD.
 *   (Release and commit are idempotent by state, and by Idempotency-Key when one is sent.)
 * - `GET /reservations?orderId=` → 200 {items} (0 or 1; hidden from other customers).
 * - `GET /reservations/:id` → 200 reservation; 404 RESERVATION_NOT_FOUND.
 * - `GET /stock/:sku` → 200 {sku, available, reserved}; 404 SKU_NOT_FOUND.
 * - `GET /stock` → 200 {items:[{sku, initial, available, reserved, committed}]} (chaos checker).
 * - `GET /audit/reservations`, `GET /events/stats`, `GET /dead-letters[/:id]`,
 *   `POST /dead-letters/:id/replay|discard`: operators and the chaos checker (platform/audit.ts;
 *   403 for end users).
 * Consumes (group 'inventory'): OrderConfirmed → CONFIRMED, ShipmentCreated → COMMITTED,
 * OrderCancelled → RELEASED if still held.
 */
import type { EventBus } from '@flotilla/events';
import { type Clock, systemClock } from '@flotilla/resilience';
import { type IdempotencyPruner, idempotencyMigrations } from '@flotilla/saga';
import { defineService, type Service } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { z } from 'zod';
import {
  Reservation,
  ReservationList,
  ReservationQuery,
  ReserveRequest,
  Sku,
  StockLevel,
  StockList,
} from '../../contracts/inventory-api.js';
import { busAdminRoutes } from '../../platform/audit.js';
import {
  idempotencyRetentionMs,
  idempotentCommand,
  pruneIdempotencyKeysUntilClose,
  requireIdempotencyKey,
  settle,
} from '../../platform/idempotent-request.js';
import { openPlatform } from '../../platform/runtime.js';
import { inventoryAuditRoutes } from './audit-routes.js';
import type { InventoryDb } from './db.js';
import { type ExpiryJob, startExpiryJob } from './expiry-job.js';
import { inventoryMigrations } from './migrations.js';
import { subscribeToOrderEvents } from './order-events-consumer.js';
import { commit, getReservation, release, reservationsOfOrder, reserve } from './reservations.js';
import { allStock, seedStock, stockOf } from './stock.js';

/** The inventory service's own environment variables. */
export const inventoryConfig = z.object({
  /** How long a PENDING reservation holds its stock, in ms. */
  INVENTORY_RESERVATION_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(15 * 60_000),
  /** Time between two runs of the expiry job, in ms. */
  INVENTORY_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).default(5000),
  /** Reservations expired per transaction. */
  INVENTORY_EXPIRY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
  /** How long an Idempotency-Key and its answer are kept, in ms (see `idempotencyRetentionMs`). */
  SHOP_IDEMPOTENCY_RETENTION_MS: idempotencyRetentionMs,
});

/** What the inventory service's handlers use. */
export interface InventoryDeps {
  readonly store: Store<InventoryDb>;
  readonly bus: EventBus<InventoryDb>;
  readonly expiry: ExpiryJob;
  /** Prunes expired idempotency keys (SHOP_IDEMPOTENCY_RETENTION_MS). */
  readonly idempotencyKeys: IdempotencyPruner;
  readonly now: () => number;
  readonly ttlMs: number;
}

/** Options of {@link createInventoryService} (tests). */
export interface InventoryServiceOptions {
  /** Schedules the expiry job and the pruning of idempotency keys. @default systemClock */
  readonly clock?: Clock;
  /** Wall clock, epoch ms (expiry times). @default Date.now */
  readonly now?: () => number;
}

const ReservationId = z.object({ id: z.string().min(1).max(100) });

/** Builds the inventory service's definition. */
export function createInventoryService(options: InventoryServiceOptions = {}): Service<InventoryDeps> {
  const clock = options.clock ?? systemClock;
  const now = options.now ?? Date.now;
  const service = defineService({
    name: 'inventory',
    version: '1.0.0',
    config: inventoryConfig,
    setup: async (ctx): Promise<InventoryDeps> => {
      const { store, bus } = await openPlatform<InventoryDb>(ctx, inventoryMigrations, idempotencyMigrations);
      if (await seedStock(store, now())) ctx.log.info('initialised stock from the seed');
      subscribeToOrderEvents(bus, { now, log: ctx.log });
      await bus.start();
      const expiry = startExpiryJob({
        store,
        clock,
        now,
        intervalMs: ctx.config.INVENTORY_EXPIRY_INTERVAL_MS,
        batchSize: ctx.config.INVENTORY_EXPIRY_BATCH_SIZE,
        log: ctx.log,
      });
      ctx.onClose(() => expiry.close());
      const idempotencyKeys = pruneIdempotencyKeysUntilClose(ctx, {
        store,
        retentionMs: ctx.config.SHOP_IDEMPOTENCY_RETENTION_MS,
        clock,
        now,
      });
      return { store, bus, expiry, now, ttlMs: ctx.config.INVENTORY_RESERVATION_TTL_MS, idempotencyKeys };
    },
  })
    .route({
      method: 'POST',
      path: '/reservations',
      status: 201,
      summary: 'Reserves stock for an order, all lines or none (Idempotency-Key required)',
      body: ReserveRequest,
      response: Reservation,
      handler: ({ body }, { deps, idempotencyKey }) =>
        idempotentCommand(
          deps.store,
          'POST /reservations',
          requireIdempotencyKey(idempotencyKey),
          body,
          (tx) => reserve(tx, body, { now: deps.now(), ttlMs: deps.ttlMs }),
          deps.now,
        ),
    })
    .route({
      method: 'POST',
      path: '/reservations/:id/release',
      summary: 'Gives the reserved stock back (idempotent)',
      params: ReservationId,
      response: Reservation,
      handler: ({ params }, { deps, idempotencyKey }) =>
        idempotencyKey === undefined
          ? deps.store.transaction((tx) => release(tx, params.id, deps.now())).then(settle)
          : idempotentCommand(
              deps.store,
              'POST /reservations/:id/release',
              requireIdempotencyKey(idempotencyKey),
              params,
              (tx) => release(tx, params.id, deps.now()),
              deps.now,
            ),
    })
    .route({
      method: 'POST',
      path: '/reservations/:id/commit',
      summary: 'The reserved stock leaves the warehouse (idempotent)',
      params: ReservationId,
      response: Reservation,
      handler: ({ params }, { deps, idempotencyKey }) =>
        idempotencyKey === undefined
          ? deps.store.transaction((tx) => commit(tx, params.id, deps.now())).then(settle)
          : idempotentCommand(
              deps.store,
              'POST /reservations/:id/commit',
              requireIdempotencyKey(idempotencyKey),
              params,
              (tx) => commit(tx, params.id, deps.now()),
              deps.now,
            ),
    })
    .route({
      method: 'GET',
      path: '/reservations',
      summary: "An order's reservation",
      query: ReservationQuery,
      response: ReservationList,
      handler: async ({ query }, { deps, user }) => ({
        items: await reservationsOfOrder(deps.store.db, query.orderId, user?.id),
      }),
    })
    .route({
      method: 'GET',
      path: '/reservations/:id',
      summary: 'One reservation',
      params: ReservationId,
      response: Reservation,
      handler: ({ params }, { deps, user }) => getReservation(deps.store.db, params.id, user?.id),
    })
    .route({
      method: 'GET',
      path: '/stock/:sku',
      summary: 'Available and reserved units of a SKU',
      params: z.object({ sku: Sku }),
      response: StockLevel,
      handler: ({ params }, { deps }) => stockOf(deps.store.db, params.sku),
    })
    .route({
      method: 'GET',
      path: '/stock',
      summary: 'Every SKU with initial, available, reserved and committed units',
      response: StockList,
      handler: async (_input, { deps }) => ({ items: await allStock(deps.store.db) }),
    });
  // Listings and the event bus's routes for operators and the chaos checker (platform/audit.ts).
  for (const route of [...inventoryAuditRoutes(), ...busAdminRoutes<InventoryDeps>()]) service.route(route);
  return service;
}

/** The inventory service as `main.ts` runs it. */
export const inventoryService: Service<InventoryDeps> = createInventoryService();
