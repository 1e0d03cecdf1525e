import { type Clock, type Disposable, systemClock, type TimerHandle } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import { type Kysely, sql } from 'kysely';
import { type SagaLogger, warningLogger } from './logger.js';

const HOUR_MS = 3_600_000;
const DEFAULT_RETENTION_MS = 7 * 24 * HOUR_MS;
const DEFAULT_EVERY_MS = HOUR_MS;
const DEFAULT_BATCH_SIZE = 1000;
const MAX_BATCH_SIZE = 100_000;

/** Options of {@link pruneIdempotencyKeys}. */
export interface PruneIdempotencyKeysOptions {
  /**
   * Keys recorded more than this many milliseconds before `now` are deleted; an integer >= 0.
   * Keep it above the longest time a saga may still retry or compensate a step: see
   * {@link idempotencyPruner}.
   */
  readonly olderThanMs: number;
  /**
   * Wall-clock time in epoch milliseconds, compared with the keys' `created_at`.
   * @default Date.now()
   */
  readonly now?: number;
  /**
   * Most rows deleted by one statement (an integer from 1 to 100000): each batch is a short
   * statement of its own, so a large backlog never holds locks for long.
   * @default 1000
   */
  readonly batchSize?: number;
  /** Stops between batches: the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Deletes the idempotency keys (table `flotilla_saga_idempotency`, see `idempotencyMigrations`)
 * recorded before `now - olderThanMs`, oldest first, in batches of at most `batchSize` rows, each
 * its own statement, until a batch deletes fewer than `batchSize`. Resolves with how many rows it
 * deleted. Safe to run from several instances at once.
 *
 * A key deleted here is forgotten: `idempotent()` called again with it applies the effect again.
 * Prune only keys older than any retry or compensation that may still carry them.
 *
 * @example
 * const deleted = await pruneIdempotencyKeys(store.db, { olderThanMs: 7 * 24 * 3_600_000 });
 */
export async function pruneIdempotencyKeys<DB>(
  db: Kysely<DB>,
  options: PruneIdempotencyKeysOptions,
): Promise<number> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('pruneIdempotencyKeys(db, options) needs an options object with { olderThanMs }');
  const { olderThanMs, now = Date.now(), batchSize = DEFAULT_BATCH_SIZE, signal } = options;
  checkInteger('pruneIdempotencyKeys', 'olderThanMs', olderThanMs, 0);
  checkInteger('pruneIdempotencyKeys', 'batchSize', batchSize, 1, MAX_BATCH_SIZE);
  if (typeof now !== 'number' || !Number.isFinite(now))
    throw new RangeError(`pruneIdempotencyKeys.now must be a finite number of epoch ms, got ${String(now)}`);
  // created_at holds integers: `created_at < x` is `created_at < ceil(x)`, and PostgreSQL
  // compares a bigint only with an integer.
  const cutoff = Math.ceil(now - olderThanMs);
  let total = 0;
  for (;;) {
    signal?.throwIfAborted();
    const result = await sql`delete from flotilla_saga_idempotency where key in (
      select key from flotilla_saga_idempotency where created_at < ${cutoff} order by created_at limit ${batchSize})`.execute(
      db,
    );
    const deleted = Number(result.numAffectedRows ?? 0);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}

/** Options of {@link idempotencyPruner}. */
export interface IdempotencyPrunerOptions<DB> {
  /** The participant's store, migrated with `idempotencyMigrations`. */
  readonly store: Pick<Store<DB>, 'db'>;
  /**
   * How long a key is kept, in milliseconds; an integer >= 3600000 (1 hour). It must exceed the
   * longest time a saga may still retry or compensate a step that carries the key (its deadline,
   * or the time an operator may take to retry a stuck saga): a key pruned earlier lets that late
   * attempt apply the effect a second time.
   * @default 604800000 (7 days)
   */
  readonly retentionMs?: number;
  /**
   * Time between two prunes, in milliseconds; an integer >= 1000. The first prune runs one
   * interval after the start, so a process restarted more often than this never prunes.
   * @default 3600000 (1 hour)
   */
  readonly everyMs?: number;
  /**
   * Most rows deleted by one statement; an integer from 1 to 100000.
   * @default 1000
   */
  readonly batchSize?: number;
  /**
   * Schedules the prunes (a test passes a `manualClock()`).
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Wall-clock time in epoch milliseconds, compared with the keys' `created_at`. Tests pass the
   * manual clock's `now` here too.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Where each prune that deleted rows (info) and each failed prune (error) is reported; pino fits.
   * @default warnings and errors to `process.emitWarning`
   */
  readonly logger?: SagaLogger;
}

/** A running {@link idempotencyPruner}: `dispose()` stops it. */
export interface IdempotencyPruner extends Disposable {
  /**
   * Stops scheduling prunes; a prune in progress stops after its current batch (await
   * {@link IdempotencyPruner.idle} before closing the store). Calling it again does nothing.
   */
  dispose(): void;
  /** Resolves when the prune in progress, if any, has finished; never rejects. */
  idle(): Promise<void>;
}

/**
 * Deletes expired idempotency keys of a participant periodically, so `flotilla_saga_idempotency`
 * stops growing: every `everyMs` (on `clock`) it runs {@link pruneIdempotencyKeys} for keys older
 * than `retentionMs`. A failed prune is logged and tried again at the next tick; it never throws
 * out of the timer. Its timer does not keep the process alive.
 *
 * Why the retention must be long: a saga retries a failed step, and compensates completed ones,
 * with the same idempotency key for as long as it runs (until its deadline, or until an
 * operator retries it after it got stuck). A key pruned before the last such attempt is
 * forgotten, and that attempt applies the effect again (a second charge, a second reservation).
 * Keep `retentionMs` well above the longest a saga may live; 7 days by default.
 *
 * @example
 * const pruner = idempotencyPruner({ store, logger: ctx.log });
 * ctx.onClose(() => {
 *   pruner.dispose();
 *   return pruner.idle();
 * });
 */
export function idempotencyPruner<DB>(options: IdempotencyPrunerOptions<DB>): IdempotencyPruner {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('idempotencyPruner(options) needs an options object with { store }');
  const {
    store,
    retentionMs = DEFAULT_RETENTION_MS,
    everyMs = DEFAULT_EVERY_MS,
    batchSize = DEFAULT_BATCH_SIZE,
    clock = systemClock,
    now = Date.now,
    logger = warningLogger,
  } = options;
  if (typeof store !== 'object' || store === null || typeof store.db !== 'object' || store.db === null)
    throw new TypeError('idempotencyPruner.store must be a store opened with idempotencyMigrations');
  checkInteger('idempotencyPruner', 'retentionMs', retentionMs, HOUR_MS);
  checkInteger('idempotencyPruner', 'everyMs', everyMs, 1000);
  checkInteger('idempotencyPruner', 'batchSize', batchSize, 1, MAX_BATCH_SIZE);

  const controller = new AbortController();
  let timer: TimerHandle | undefined;
  let running: Promise<void> | undefined;

  const prune = async (): Promise<void> => {
    try {
      const deleted = await pruneIdempotencyKeys(store.db, {
        olderThanMs: retentionMs,
        now: now(),
        batchSize,
        signal: controller.signal,
      });
      if (deleted > 0) logger.info({ deleted, retentionMs }, 'pruned idempotency keys');
    } catch (err) {
      if (!controller.signal.aborted)
        try {
          logger.error({ err, retentionMs }, 'pruning idempotency keys failed; retrying at the next tick');
        } catch {
          // A throwing logger must not stop the pruner.
        }
    } finally {
      running = undefined;
      schedule();
    }
  };

  const schedule = (): void => {
    if (controller.signal.aborted) return;
    timer = clock.setTimeout(
      () => {
        timer = undefined;
        running = prune();
      },
      everyMs,
      true,
    );
  };
  schedule();

  return {
    dispose() {
      if (controller.signal.aborted) return;
      controller.abort(new Error('the idempotency pruner was disposed'));
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
    idle() {
      return running ?? Promise.resolve();
    },
  };
}

function checkInteger(fn: string, field: string, value: unknown, min: number, max?: number): void {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < min ||
    (max !== undefined && value > max)
  )
    throw new RangeError(
      `${fn}.${field} must be an integer ${max === undefined ? `>= ${min}` : `from ${min} to ${max}`}, got ${String(value)}`,
    );
}
