// Keyset paging over (created_at, id), newest first: the cursor is opaque to clients.
import { ServiceError } from '@flotilla/service';

/** A position in a newest-first listing: the last row's creation time and id. */
export interface PagePosition {
  readonly createdAt: number;
  readonly id: string;
}

/** The cursor that continues after `position`. */
export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** The position a cursor names; 400 `INVALID_CURSOR` when it is not one of ours. */
export function decodeCursor(cursor: string): PagePosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === 'string' &&
      value[1].length > 0
    )
      return { createdAt: value[0] as number, id: value[1] };
  } catch {
    // fall through to the error below
  }
  throw new ServiceError(400, 'INVALID_CURSOR', 'cursor is not a cursor this service returned', {
    retryable: false,
  });
}
