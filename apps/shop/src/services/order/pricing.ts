// Prices an order's lines with the catalogue's batch route (the monolith's GET /products?skus=).
// Prices always come from the catalogue, never from the client.
import type { ServiceClient } from '@flotilla/service';
import { ServiceError } from '@flotilla/service';
import type { z } from 'zod';
import { ProductBatch, ProductSku } from '../../contracts/legacy-api.js';
import type { OrderLine } from '../../contracts/order-events.js';

/** A priced order: its lines with unit prices, the total and the one currency. */
export interface PricedOrder {
  readonly lines: readonly z.infer<typeof OrderLine>[];
  readonly totalMinor: number;
  readonly currency: string;
}

/**
 * Prices `items` with one call to the catalogue. Throws 422 `UNKNOWN_PRODUCT` (details
 * `{ skus }`) when a SKU is not sold, 422 `MIXED_CURRENCIES` when the products are priced in
 * different currencies; upstream failures propagate (the service maps them to 502/503/504).
 */
export async function priceItems(
  catalogue: ServiceClient,
  items: readonly { readonly sku: string; readonly quantity: number }[],
  options: { signal?: AbortSignal } = {},
): Promise<PricedOrder> {
  // A SKU the catalogue could not even parse is as unknown as one it does not sell.
  const malformed = items.filter((i) => !ProductSku.safeParse(i.sku).success).map((i) => i.sku);
  if (malformed.length > 0) throw unknownProducts(malformed);
  const batch = await catalogue.get('/products', {
    query: { skus: items.map((i) => i.sku).join(',') },
    schema: ProductBatch,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const bySku = new Map(batch.items.map((p) => [p.sku, p]));
  const missing = items.filter((i) => !bySku.has(i.sku)).map((i) => i.sku);
  if (missing.length > 0) throw unknownProducts(missing);
  const currencies = new Set(items.map((i) => bySku.get(i.sku)?.currency));
  if (currencies.size !== 1)
    throw new ServiceError(422, 'MIXED_CURRENCIES', 'the products are priced in different currencies', {
      details: { currencies: [...currencies] },
      retryable: false,
    });
  const lines = items.map((i) => ({
    sku: i.sku,
    quantity: i.quantity,
    unitPriceMinor: bySku.get(i.sku)?.priceMinor ?? 0,
  }));
  const totalMinor = lines.reduce((sum, l) => sum + l.unitPriceMinor * l.quantity, 0);
  return { lines, totalMinor, currency: [...currencies][0] as string };
}

function unknownProducts(skus: readonly string[]): ServiceError {
  return new ServiceError(422, 'UNKNOWN_PRODUCT', `unknown product(s): ${skus.join(', ')}`, {
    details: { skus },
    retryable: false,
  });
}
