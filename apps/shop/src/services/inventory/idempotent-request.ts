// Idempotent HTTP commands on top of `idempotent()` from @flotilla/saga: the stored result is the
// command's outcome — success or business rejection — with a fingerprint of the request, so the
// same key answers the same response, and the same key with a different request is refused.
import { createHash } from 'node:crypto';
import { idempotent } from '@flotilla/saga';
import { ServiceError } from '@flotilla/service';
import type { Store, Tx } from '@flotilla/store';

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
 * rolls back and records nothing (the next try runs it again).
 */
export async function idempotentCommand<T, DB>(
  store: Store<DB>,
  scope: string,
  key: string,
  request: unknown,
  command: (tx: Tx<DB>) => Promise<Outcome<T>>,
): Promise<T> {
  const fingerprint = createHash('sha256').update(JSON.stringify(request)).digest('base64url');
  const stored = await store.transaction((tx) =>
    idempotent<Stored<T>, DB>(tx, `${scope} ${key}`, async (inner) => ({
      fingerprint,
      outcome: await command(inner),
    })),
  );
  if (stored.fingerprint !== fingerprint)
    throw new ServiceError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key ${JSON.stringify(key)} was used for a different request`,
      { retryable: false },
    );
  return settle(stored.outcome);
}
