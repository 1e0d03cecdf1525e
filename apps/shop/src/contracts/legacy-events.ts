// Events published by the legacy monolith while it is being strangled, and the product shape
// they carry (also the body of the monolith's and the catalog's `GET /products/:sku`).
import { defineEvent } from '@flotilla/events';
import { z } from 'zod';

/** A product as the catalog shows it. */
export const Product = z.object({
  sku: z.string().min(1),
  name: z.string().min(1),
  description: z.string(),
  /** The shelf it sits on, e.g. `tea`. */
  category: z.string().min(1),
  priceMinor: z.number().int().nonnegative(),
  currency: z.string().length(3),
});

/**
 * A product with the time of its last change: the body of `GET /products/:sku` on the monolith
 * and, identically, on the catalog service (the gateway compares the two).
 */
export const ProductView = Product.extend({ updatedAt: z.iso.datetime() });

/** A product was created or changed in the monolith's catalog (full state: the latest event wins). */
export const ProductChanged = defineEvent('ProductChanged', {
  version: 1,
  schema: ProductView,
});

/** A product with its last-change time. */
export type ProductView = z.infer<typeof ProductView>;
