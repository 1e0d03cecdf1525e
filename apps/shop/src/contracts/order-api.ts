// The HTTP API of the order service (its published language for synchronous callers: the
// gateway's /api/v2/orders routes and order view, the console, the load scenario). Request and
// response bodies as zod schemas; nothing here belongs to another service.
import { z } from 'zod';
import { auditPage } from '../platform/audit.js';
import { CancellationReason, OrderLine } from './order-events.js';

/** Where an order is: PENDING while its fulfillment saga runs, then CONFIRMED or CANCELLED. */
export const OrderStatus = z.enum(['PENDING', 'CONFIRMED', 'CANCELLED']);

/** A SKU as an order names it; SKUs the catalogue does not know are refused with 422 `UNKNOWN_PRODUCT`. */
export const OrderSku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'sku must be letters, digits, ".", "_" or "-"');

/** A line of `POST /orders`: a SKU and 1 to 100 units. */
export const OrderItemRequest = z.strictObject({
  sku: OrderSku,
  quantity: z.number().int().min(1).max(100),
});

/**
 * `POST /orders` (an end user; header `Idempotency-Key` required, 1 to 200 visible ASCII
 * characters): 1 to 20 lines with distinct SKUs. Prices come from the catalogue, never from the
 * client.
 */
export const PlaceOrderRequest = z.strictObject({
  items: z
    .array(OrderItemRequest)
    .min(1)
    .max(20)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      for (const [i, item] of items.entries()) {
        if (seen.has(item.sku))
          ctx.addIssue({ code: 'custom', message: `sku ${item.sku} appears twice`, path: [i, 'sku'] });
        seen.add(item.sku);
      }
    }),
});

/**
 * `POST /orders` → 202: the order is accepted and its fulfillment runs in the background. The
 * same `Idempotency-Key` (per customer) with the same items answers this very body again.
 */
export const OrderAccepted = z.object({
  orderId: z.uuid(),
  status: z.literal('PENDING'),
});

/** An order as its owner sees it: `GET /orders/:id`, and the items of `GET /orders`. */
export const OrderView = z.object({
  id: z.uuid(),
  customerId: z.string().min(1),
  status: OrderStatus,
  /** Why a CANCELLED order was cancelled; absent otherwise. */
  reason: CancellationReason.optional(),
  items: z.array(OrderLine).min(1),
  totalMinor: z.number().int().nonnegative(),
  currency: z.string().length(3),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

/**
 * Path parameters of `GET /orders/:id`. Any id that is not one of the caller's orders, a
 * malformed one included, is 404 `ORDER_NOT_FOUND`: the gateway's order view passes a 404 of
 * its required order part through, but would turn a 400 into a 502.
 */
export const OrderParams = z.object({ id: z.string().min(1).max(200) });

/** Query of `GET /orders`: the caller's own orders, newest first, optionally of one status. */
export const OrderListQuery = z.strictObject({
  status: OrderStatus.optional(),
  /** Page size. @default 20 */
  limit: z.coerce.number().int().min(1).max(100).default(20),
  /** `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(200).optional(),
});

/** `GET /orders` → a page of the caller's orders; `nextCursor` is null on the last page. */
export const OrderPage = z.object({
  items: z.array(OrderView),
  nextCursor: z.string().nullable(),
});

/**
 * Error codes of the order API (in `{ error: { code, message, details, retryable } }`):
 * - 400 `VALIDATION_FAILED` (bad body or query; details name each field), `IDEMPOTENCY_KEY_REQUIRED`,
 *   `IDEMPOTENCY_KEY_INVALID`, `INVALID_CURSOR`
 * - 401 `UNAUTHENTICATED` (no service token, or no end user in it)
 * - 404 `ORDER_NOT_FOUND` (also for another customer's order)
 * - 409 `IDEMPOTENCY_KEY_REUSED` (the same key with different items)
 * - 422 `UNKNOWN_PRODUCT` (details `{ skus }`; nothing was written), `MIXED_CURRENCIES`
 * - 502/503/504 when the catalogue (legacy) cannot price the order
 */
export const OrderErrorCode = z.enum([
  'IDEMPOTENCY_KEY_REQUIRED',
  'IDEMPOTENCY_KEY_INVALID',
  'INVALID_CURSOR',
  'UNAUTHENTICATED',
  'ORDER_NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'UNKNOWN_PRODUCT',
  'MIXED_CURRENCIES',
]);

/** Inferred types. */
export type OrderStatus = z.infer<typeof OrderStatus>;
/** The body of `POST /orders`. */
export type PlaceOrderRequest = z.infer<typeof PlaceOrderRequest>;
/** An order as its owner sees it. */
export type OrderView = z.infer<typeof OrderView>;
/** A page of orders. */
export type OrderPage = z.infer<typeof OrderPage>;

/** `GET /audit/orders` (operators and the chaos checker): every order, in id order. */
export const AuditOrderPage = auditPage(OrderView);
