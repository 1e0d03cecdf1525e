import { flotillaCode } from '@flotilla/resilience';
import { type ErrorBody, errorBody, isServiceError } from './errors.js';

/** How an error leaves a service: status, body and an optional Retry-After in seconds. */
export interface MappedError {
  readonly status: number;
  readonly body: ErrorBody;
  readonly retryAfterSeconds?: number;
  /** True for errors that are the service's own fault and must be logged with their stack. */
  readonly internal: boolean;
}

/** Resilience and client errors a handler let through, by code: status and whether it is retryable. */
const POLICY_ERRORS: Record<string, { status: number; message: string }> = {
  BROKEN_CIRCUIT: { status: 503, message: 'a dependency is unavailable (circuit open)' },
  ISOLATED_CIRCUIT: { status: 503, message: 'a dependency is isolated by an operator' },
  BULKHEAD_REJECTED: { status: 503, message: 'too many concurrent calls to a dependency' },
  RATE_LIMITED: { status: 429, message: 'rate limit exceeded' },
  TIMEOUT: { status: 504, message: 'a dependency did not answer in time' },
  DEADLINE_EXCEEDED: { status: 504, message: "the caller's deadline passed" },
  UPSTREAM_UNAVAILABLE: { status: 503, message: 'a dependency is unreachable' },
  RETRIES_EXHAUSTED: { status: 503, message: 'a dependency kept failing' },
};

/** Driver codes of a database connection that broke or could not be made (node and PostgreSQL). */
const LOST_CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
]);

/**
 * Whether `err` says the database connection was lost or is momentarily unusable (a terminated
 * backend, a failover, a busy SQLite file). Lost during COMMIT, the transaction may have
 * committed: the request may be sent again with the same Idempotency-Key, which answers the first
 * outcome if it did.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (LOST_CONNECTION_CODES.has(code) || /^08...$/.test(code)) return true;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT') return true;
  // pg reports a socket closed under a query with no code, and a client whose connection broke
  // (e.g. the ROLLBACK after a query that lost the connection) as not queryable.
  return (
    typeof e.message === 'string' &&
    (/^Connection terminated( unexpectedly)?\b/.test(e.message) ||
      /^Client (has encountered a connection error|was closed) and is not queryable$/.test(e.message))
  );
}

/**
 * Maps anything a handler threw to the response a client sees. `ServiceError`s answer as
 * declared; resilience errors become 503/504/429 with their code; upstream errors that the
 * handler did not handle become 502; a lost database connection is a retryable 503
 * `DATABASE_UNAVAILABLE`; everything else is a 500 with a generic message (the detail goes to the
 * log, never to the client).
 */
export function mapError(err: unknown, requestId: string): MappedError {
  if (isServiceError(err)) {
    return {
      status: err.status,
      body: err.toBody(),
      ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
      internal: err.status >= 500,
    };
  }
  const code = flotillaCode(err);
  if (code !== undefined) {
    if (code === 'RETRIES_EXHAUSTED') {
      const cause = (err as { cause?: unknown }).cause;
      if (cause !== undefined && flotillaCode(cause) !== undefined) return mapError(cause, requestId);
    }
    const known = POLICY_ERRORS[code];
    const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
    const retryAfterSeconds =
      typeof retryAfterMs === 'number' && retryAfterMs > 0
        ? Math.max(1, Math.ceil(retryAfterMs / 1000))
        : undefined;
    if (known !== undefined) {
      return {
        status: known.status,
        body: errorBody(code, known.message, true),
        ...(retryAfterSeconds === undefined ? { retryAfterSeconds: 1 } : { retryAfterSeconds }),
        internal: false,
      };
    }
    if (
      typeof (err as { service?: unknown }).service === 'string' &&
      typeof (err as { status?: unknown }).status === 'number'
    ) {
      const upstream = err as { service: string; status: number };
      return {
        status: 502,
        body: errorBody(
          'BAD_GATEWAY',
          `dependency "${upstream.service}" answered ${upstream.status}`,
          upstream.status >= 500,
        ),
        internal: false,
      };
    }
  }
  if (isTransientDatabaseError(err))
    return {
      status: 503,
      body: errorBody('DATABASE_UNAVAILABLE', 'the service lost its database connection; try again', true),
      retryAfterSeconds: 1,
      internal: false,
    };
  return {
    status: 500,
    body: errorBody('INTERNAL', `internal error (request ${requestId})`, true),
    internal: true,
  };
}
