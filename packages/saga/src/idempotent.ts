import type { Tx } from '@flotilla/store';
import { sql } from 'kysely';

/** Options of {@link idempotent}. */
export interface IdempotentOptions {
  /**
   * Wall-clock time in epoch milliseconds, recorded with the key.
   * @default Date.now
   */
  now?: () => number;
}

const MAX_KEY = 512;

/**
 * Applies an effect at most once per idempotency key, for participant services: within the
 * participant's own transaction `tx`, it records `key` (table `flotilla_saga_idempotency`, see
 * `idempotencyMigrations`), runs `fn(tx)` and stores its JSON result, so the key, the effect and
 * the result commit or roll back together. A repeated call with the same key returns the
 * first result without calling `fn`.
 *
 * The key is inserted first: on PostgreSQL a concurrent duplicate blocks on it until the first
 * transaction ends, then returns its result (or, if that one rolled back, acts itself); on
 * SQLite writers are serialised anyway.
 *
 * @example
 * app.route({ method: 'POST', path: '/payments', body: Charge, handler: ({ body }, { deps, idempotencyKey }) =>
 *   deps.store.transaction((tx) =>
 *     idempotent(tx, idempotencyKey ?? body.orderId, async (tx) => {
 *       await tx.insertInto('payments').values({ order_id: body.orderId, cents: body.cents }).execute();
 *       return { paymentId: body.orderId };
 *     }),
 *   ),
 * });
 */
export async function idempotent<T, DB>(
  tx: Tx<DB>,
  key: string,
  fn: (tx: Tx<DB>) => Promise<T>,
  options: IdempotentOptions = {},
): Promise<T> {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY)
    throw new RangeError(
      `idempotent(key) needs a string of 1 to ${MAX_KEY} characters, got ${JSON.stringify(key)}`,
    );
  if (typeof fn !== 'function') throw new TypeError('idempotent(tx, key, fn) needs fn to be a function');
  const now = (options.now ?? Date.now)();
  const { rows } = await sql<{
    key: string;
  }>`insert into flotilla_saga_idempotency (key, result, created_at) values (${key}, null, ${now}) on conflict (key) do nothing returning key`.execute(
    tx,
  );
  if (rows.length === 0) {
    const { rows: found } = await sql<{
      result: string | null;
    }>`select result from flotilla_saga_idempotency where key = ${key}`.execute(tx);
    const stored = found[0]?.result ?? null;
    return (stored === null ? undefined : JSON.parse(stored)) as T;
  }
  const result = await fn(tx);
  // A result of undefined is stored as the NULL already written: one statement fewer per effect.
  if (result !== undefined)
    await sql`update flotilla_saga_idempotency set result = ${JSON.stringify(result)} where key = ${key}`.execute(
      tx,
    );
  return result;
}
