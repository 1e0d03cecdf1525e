// The HTTP API of the inventory service (its published language for synchronous callers: the
// order saga, the gateway's order view, the chaos checker). Request and response bodies as zod
// schemas, so callers validate what they receive with `schema:`. Nothing here belongs to another
// service.
import { z } from 'zod';
import { auditPage } from '../platform/audit.js';

/** A stock-keeping unit, e.g. `TEA-001`. */
export const Sku = z.string().regex(/^[A-Z]{2,10}-\d{3,6}$/, 'sku must look like TEA-001');

/** A line to reserve. */
export const ReservationLine = z.object({
  sku: Sku,
  quantity: z.number().int().min(1).max(1000),
});

/**
 * `POST /reservations` (header `Idempotency-Key` required). All or nothing: every line is taken
 * or none is. `customerId` (optional) lets the reservation be shown to its customer only.
 */
export const ReserveRequest = z.object({
  orderId: z.string().min(1).max(100),
  customerId: z.string().min(1).max(100).optional(),
  items: z.array(ReservationLine).min(1).max(50),
});

/** Where a reservation is: PENDING expires at `expiresAt`; CONFIRMED does not expire; COMMITTED left the warehouse. */
export const ReservationStatus = z.enum(['PENDING', 'CONFIRMED', 'RELEASED', 'COMMITTED', 'EXPIRED']);

/**
 * A reservation: `POST /reservations` → 201, `POST /reservations/:id/release` and
 * `/commit` → 200, `GET /reservations/:id`, and the items of `GET /reservations?orderId=`.
 */
export const Reservation = z.object({
  reservationId: z.string().min(1),
  orderId: z.string().min(1),
  status: ReservationStatus,
  items: z.array(ReservationLine).min(1),
  /** When a PENDING reservation is released by the expiry job (ISO 8601). */
  expiresAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

/** `GET /reservations?orderId=` → the order's reservation, if any (at most one per order). */
export const ReservationList = z.object({ items: z.array(Reservation) });

/** Query of `GET /reservations`. */
export const ReservationQuery = z.object({ orderId: z.string().min(1).max(100) });

/** `details` of a 409 `OUT_OF_STOCK`: every SKU that was short, with what was asked and what was left. */
export const OutOfStockDetails = z.object({
  shortages: z.array(
    z.object({ sku: Sku, requested: z.number().int(), available: z.number().int().nonnegative() }),
  ),
});

/** `details` of a 422 `UNKNOWN_SKU`. */
export const UnknownSkuDetails = z.object({ skus: z.array(z.string()) });

/** `GET /stock/:sku` → what can be sold now, and what is held by reservations. */
export const StockLevel = z.object({
  sku: Sku,
  available: z.number().int().nonnegative(),
  reserved: z.number().int().nonnegative(),
});

/**
 * A line of `GET /stock`: the conservation invariant is `initial = available + reserved +
 * committed` for every SKU, whatever happened (the chaos checker verifies it).
 */
export const StockEntry = StockLevel.extend({
  initial: z.number().int().nonnegative(),
  committed: z.number().int().nonnegative(),
});

/** `GET /stock` → every SKU. */
export const StockList = z.object({ items: z.array(StockEntry) });

/**
 * Error codes of the inventory API (in `{ error: { code, message, details, retryable } }`):
 * - 400 `VALIDATION_FAILED`, `IDEMPOTENCY_KEY_REQUIRED`
 * - 404 `RESERVATION_NOT_FOUND`, `SKU_NOT_FOUND`
 * - 409 `OUT_OF_STOCK` (details {@link OutOfStockDetails}), `RESERVATION_EXISTS` (another key
 *   already reserved for this order; details `{ reservationId, status }`),
 *   `RESERVATION_COMMITTED` (release after the stock left), `RESERVATION_NOT_HELD` (commit
 *   after a release or an expiry)
 * - 422 `UNKNOWN_SKU` (details {@link UnknownSkuDetails}), `IDEMPOTENCY_KEY_REUSED` (the same
 *   key with a different request)
 */
export const InventoryErrorCode = z.enum([
  'IDEMPOTENCY_KEY_REQUIRED',
  'RESERVATION_NOT_FOUND',
  'SKU_NOT_FOUND',
  'OUT_OF_STOCK',
  'RESERVATION_EXISTS',
  'RESERVATION_COMMITTED',
  'RESERVATION_NOT_HELD',
  'UNKNOWN_SKU',
  'IDEMPOTENCY_KEY_REUSED',
]);

/** Inferred types. */
export type ReserveRequest = z.infer<typeof ReserveRequest>;
/** A reservation as the API shows it. */
export type Reservation = z.infer<typeof Reservation>;
/** One SKU's stock with its conservation counters. */
export type StockEntry = z.infer<typeof StockEntry>;

/** `GET /audit/reservations` (operators and the chaos checker): every reservation, in any state. */
export const AuditReservationPage = auditPage(Reservation);
