// Idempotent HTTP commands of the saga's participants (inventory, payment), on top of
// `idempotent()` from @flotilla/saga: the stored result is the command's outcome — success or
// business rejection — with a fingerprint of the request, so the same key answers the same
// response, and the same key with a different request is refused.
import { createHash } from 'node:crypto';
import type { Clock } from '@flotilla/resilience';
import { type IdempotencyPruner, idempotencyPruner, idempotent, type SagaLogger } from '@flotilla/saga';
import { ServiceError } from '@flotilla/service';
import type { Store, Tx } from '@flotilla/store';
import { type Kysely, sql } from 'kysely';
import { z } from 'zod';

/** What a command decided: a body to answer with, or a rejection to answer as an error. */
export type Outcome<T> =
  | { readonly ok: true; readonly body: T }
  | {
      readonly ok: false;
      readonly status: number;
      readonly code: string;
      readonly message: string;
      readonly details?: unknown;
    };

interface Stored<T> {
  readonly fingerprint: string;
  readonly outcome: Outcome<T>;
}

const KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * The `SHOP_IDEMPOTENCY_RETENTION_MS` setting of a service with idempotent commands: how long a
 * key and its answer are kept, in ms (at least 1 hour, default 7 days; pruned every hour). Keep
 * it above the longest an order saga may still retry or compensate a call to the service: a
 * pruned key lets a late retry act again.
 */
export const idempotencyRetentionMs = z.coerce
  .number()
  .int()
  .min(3_600_000)
  .default(7 * 24 * 3_600_000);

/**
 * Prunes the idempotency keys of `store` older than `retentionMs` every hour, on the service's
 * clock, until the service closes (then it stops and waits for a prune in progress).
 */
export function pruneIdempotencyKeysUntilClose<DB>(
  ctx: { onClose(close: () => unknown): void; readonly log: SagaLogger },
  options: { store: Store<DB>; retentionMs: number; clock: Clock; now: () => number },
): IdempotencyPruner {
  const pruner = idempotencyPruner({ ...options, logger: ctx.log });
  ctx.onClose(() => {
    pruner.dispose();
    return pruner.idle();
  });
  return pruner;
}

/** The request's Idempotency-Key, or 400 `IDEMPOTENCY_KEY_REQUIRED` when missing or malformed. */
export function requireIdempotencyKey(key: string | undefined): string {
  if (key === undefined || !KEY.test(key))
    throw new ServiceError(
      400,
      'IDEMPOTENCY_KEY_REQUIRED',
      'send an Idempotency-Key header of 1 to 200 visible ASCII characters',
      { retryable: false },
    );
  return key;
}

/** The body of a success, or the rejection thrown as a {@link ServiceError}. */
export function settle<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.body;
  throw new ServiceError(outcome.status, outcome.code, outcome.message, {
    details: outcome.details,
    retryable: false,
  });
}

/**
 * Runs `command` at most once per (`scope`, `key`) in one transaction of `store`: its effects,
 * the key and its outcome commit together. A repeat returns the stored outcome without running
 * it; a repeat whose `request` differs is 422 `IDEMPOTENCY_KEY_REUSED`. A command that throws
 * rolls back and records nothing (the next try runs it again). `now` stamps the key (the
 * service's clock, which its idempotency-key pruner compares against).
 */
export async function idempotentCommand<T, DB>(
  store: Store<DB>,
  scope: string,
  key: string,
  request: unknown,
  command: (tx: Tx<DB>) => Promise<Outcome<T>>,
  now: () => number = Date.now,
): Promise<T> {
  const fingerprint = fingerprintOf(request);
  const stored = await store.transaction((tx) =>
    idempotent<Stored<T>, DB>(
      tx,
      `${scope} ${key}`,
      async (inner) => ({ fingerprint, outcome: await command(inner) }),
      { now },
    ),
  );
  if (stored.fingerprint !== fingerprint) throw keyReused(key);
  return settle(stored.outcome);
}

/**
 * The outcome already recorded for (`scope`, `key`), without taking any lock: lets a command
 * skip slow work outside the transaction (a provider call) when it is a repeat. 422
 * `IDEMPOTENCY_KEY_REUSED` when it was recorded for a different request.
 */
export async function recordedOutcome<T, DB>(
  db: Kysely<DB>,
  scope: string,
  key: string,
  request: unknown,
): Promise<Outcome<T> | undefined> {
  const { rows } = await sql<{
    result: string | null;
  }>`select result from flotilla_saga_idempotency where key = ${`${scope} ${key}`}`.execute(db);
  const result = rows[0]?.result;
  if (result === undefined || result === null) return undefined;
  const stored = JSON.parse(result) as Stored<T>;
  if (stored.fingerprint !== fingerprintOf(request)) throw keyReused(key);
  return stored.outcome;
}

function fingerprintOf(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('base64url');
}

function keyReused(key: string): ServiceError {
  return new ServiceError(
    422,
    'IDEMPOTENCY_KEY_REUSED',
    `Idempotency-Key ${JSON.stringify(key)} was used for a different request`,
    { retryable: false },
  );
}
