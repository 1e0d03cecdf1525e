// The HTTP API of the catalog service, the capability being extracted from the monolith. Its
// product routes answer EXACTLY what the monolith's do (the gateway shadows one with the other and
// compares the bodies), so the schemas are the monolith's published product shape, re-declared
// here under the catalog's name rather than shared through one module.
import { z } from 'zod';
import { ProductView } from './legacy-events.js';

/** A SKU, e.g. `TEA-001`. */
export const CatalogSku = z.string().regex(/^[A-Z]{2,10}-\d{3,6}$/, 'sku must look like TEA-001');

/** `GET /products/:sku` → the product (404 `PRODUCT_NOT_FOUND` when unknown). */
export const CatalogProduct = ProductView;

/** Query of `GET /products`: `skus=A,B` (batch of up to 100) or a page (`limit`, `cursor`). */
export const CatalogListQuery = z.object({
  skus: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(CatalogSku).min(1).max(100))
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(200).optional(),
});

/** `GET /products?skus=` → found products (in the order asked) and the missing SKUs. */
export const CatalogBatch = z.object({ items: z.array(CatalogProduct), missing: z.array(z.string()) });

/** `GET /products` (paged) → a page in SKU order; `nextCursor` null on the last page. */
export const CatalogPage = z.object({ items: z.array(CatalogProduct), nextCursor: z.string().nullable() });

/** `GET /products` answers a page or, with `skus`, a batch. */
export const CatalogListResponse = z.union([CatalogBatch, CatalogPage]);

/** Error codes: 400 `VALIDATION_FAILED`, `INVALID_CURSOR`; 404 `PRODUCT_NOT_FOUND`. */
export const CatalogErrorCode = z.enum(['PRODUCT_NOT_FOUND', 'INVALID_CURSOR']);
