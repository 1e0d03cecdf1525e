// The HTTP API of the legacy monolith that other services and the gateway call: login, the
// product catalogue (the order service prices orders with the batch route), the old v1 orders
// and the admin route that changes a product. Nothing here belongs to another service.
import { z } from 'zod';
import { ProductView } from './legacy-events.js';

export { ProductView } from './legacy-events.js';

/** A SKU as the monolith spells them, e.g. `TEA-001`. */
export const ProductSku = z.string().regex(/^[A-Z]{2,10}-\d{3,6}$/, 'sku must look like TEA-001');

/** `POST /login`. */
export const LoginRequest = z.object({
  email: z.string().min(3).max(254),
  password: z.string().min(1).max(200),
});

/**
 * `POST /login` → 200: an end-user JWT (HS256, `iss` "flotilla-shop", `sub` the customer id,
 * `scope` "orders:read orders:write", valid for `expiresInSeconds`). Wrong email or password:
 * 401 `INVALID_CREDENTIALS` (one message for both).
 */
export const LoginResponse = z.object({
  token: z.string().min(1),
  tokenType: z.literal('Bearer'),
  expiresInSeconds: z.number().int().positive(),
});

/**
 * Query of `GET /products`: either `skus=A,B,…` (a batch of up to 100, for pricing orders) or a
 * page (`limit` 1..100, default 20; `cursor` from the previous page's `nextCursor`).
 */
export const ProductListQuery = z.object({
  skus: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(ProductSku).min(1).max(100))
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(200).optional(),
});

/** `GET /products` (paged) → a page in SKU order; `nextCursor` is null on the last page. */
export const ProductPage = z.object({
  items: z.array(ProductView),
  nextCursor: z.string().nullable(),
});

/** `GET /products?skus=` → the products found (in the order asked) and the SKUs that are not. */
export const ProductBatch = z.object({
  items: z.array(ProductView),
  missing: z.array(z.string()),
});

/** `GET /products` answers a page or, with `skus`, a batch. */
export const ProductListResponse = z.union([ProductBatch, ProductPage]);

/** `PUT /admin/products/:sku` (end user with scope `catalog:write`): creates or changes a product. */
export const UpdateProductRequest = z.object({
  priceMinor: z.number().int().min(0).max(100_000_000),
  name: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  category: z.string().min(1).max(50).optional(),
});

/** A line of a v1 order. */
export const V1OrderLine = z.object({
  sku: ProductSku,
  quantity: z.number().int().min(1).max(1000),
});

/** `POST /v1/orders` (an end user): stock, payment and order in one database transaction. */
export const V1OrderRequest = z.object({ items: z.array(V1OrderLine).min(1).max(50) });

/** A v1 order: `POST /v1/orders` → 201, `GET /v1/orders/:id` (owner only; 404 otherwise). */
export const V1Order = z.object({
  id: z.string().min(1),
  customerId: z.string().min(1),
  status: z.literal('CONFIRMED'),
  items: z.array(V1OrderLine.extend({ unitPriceMinor: z.number().int().nonnegative() })),
  totalMinor: z.number().int().nonnegative(),
  currency: z.string().length(3),
  paymentId: z.string().min(1),
  createdAt: z.iso.datetime(),
});

/**
 * Error codes of the monolith:
 * - 400 `VALIDATION_FAILED`; 401 `INVALID_CREDENTIALS` (login), `UNAUTHENTICATED` (no end user)
 * - 402 `PAYMENT_DECLINED` (v1 order total ending in 13 minor units; nothing is kept)
 * - 403 `FORBIDDEN` (admin route without scope `catalog:write`)
 * - 404 `PRODUCT_NOT_FOUND`, `ORDER_NOT_FOUND`
 * - 409 `OUT_OF_STOCK` (details `{ shortages: [{ sku, requested, available }] }`; nothing is kept)
 * - 400 `INVALID_CURSOR`; 422 `UNKNOWN_PRODUCT` (details `{ skus }`)
 */
export const LegacyErrorCode = z.enum([
  'INVALID_CREDENTIALS',
  'UNAUTHENTICATED',
  'PAYMENT_DECLINED',
  'FORBIDDEN',
  'PRODUCT_NOT_FOUND',
  'ORDER_NOT_FOUND',
  'OUT_OF_STOCK',
  'UNKNOWN_PRODUCT',
  'INVALID_CURSOR',
]);

/** Inferred types. */
export type V1Order = z.infer<typeof V1Order>;
/** A page of products. */
export type ProductPage = z.infer<typeof ProductPage>;
