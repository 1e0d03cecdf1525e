// The opaque cursor of `GET /products` pages: the last SKU of the page, base64url-encoded — the
// same format as the monolith's, so a page fetched from either side continues on the other.
import { ServiceError } from '@flotilla/service';

const SKU = /^[A-Z]{2,10}-\d{3,6}$/;

/** The cursor that continues after `sku`. */
export function encodeCursor(sku: string): string {
  return Buffer.from(`after:${sku}`, 'utf8').toString('base64url');
}

/** The SKU a cursor continues after; 400 `INVALID_CURSOR` for anything not made by {@link encodeCursor}. */
export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const sku = text.startsWith('after:') ? text.slice('after:'.length) : '';
  if (!SKU.test(sku) || encodeCursor(sku) !== cursor)
    throw new ServiceError(400, 'INVALID_CURSOR', 'cursor is not one returned by GET /products', {
      details: { cursor },
      retryable: false,
    });
  return sku;
}
