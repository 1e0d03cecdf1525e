// How the fulfillment saga treats a failed call to a participant. This is the shop's
// "compensate per policy" choice, in one place:
// - a business refusal (409 OUT_OF_STOCK, 402 PAYMENT_DECLINED, 422 UNKNOWN_SKU) fails the step
//   at once — no retry — and the saga compensates what was done before it;
// - an outage (503, 429, timeouts, unreachable instances, an open circuit, a full bulkhead) is
//   retried by the step's own retry policy (ORDER_*_RETRY_ATTEMPTS, exponential backoff); when
//   the attempts run out the saga compensates with PAYMENT_UNAVAILABLE / INVENTORY_UNAVAILABLE;
// - any other client error (a contract mismatch) fails at once with FAILED.
// Separately from retrying, each failure says whether the participant may have acted anyway
// (`uncertain`): a timeout or a connection dropped mid-request may hide a success, a refused
// connection or a 503 cannot. The step's compensation only has to look for an effect it does
// not know about when some attempt was uncertain.
import { FlotillaError, flotillaCode, hasFlotillaCode, isTimeoutError } from '@flotilla/resilience';
import { isUpstreamError, isUpstreamUnavailableError } from '@flotilla/service';
import type { z } from 'zod';
import type { CancellationReason } from '../../contracts/order-events.js';

/** The fulfillment steps that call another service. */
export type CallStep = 'reserve_inventory' | 'process_payment';

/** A cancellation reason (see `CancellationReason` in the order events). */
export type Reason = z.infer<typeof CancellationReason>;

/** How one failed call is handled. */
export interface StepFailure {
  /** The cancellation reason if this failure ends the saga. */
  readonly reason: Reason;
  /** The code seen: the participant's error code, or the client's (`TIMEOUT`, `UPSTREAM_UNAVAILABLE`, …). */
  readonly code: string;
  /** Whether the step's retry policy tries again. */
  readonly retryable: boolean;
  /** Whether the participant may have applied the request although the call failed. */
  readonly uncertain: boolean;
  /** A sentence for the logs and the cancellation event (at most 500 characters). */
  readonly detail: string;
}

/** Network errors raised before a request could reach the participant: nothing was applied. */
const NOT_CONNECTED: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Client-side refusals: the request was never sent. */
const NOT_SENT: ReadonlySet<string> = new Set([
  'BROKEN_CIRCUIT',
  'ISOLATED_CIRCUIT',
  'BULKHEAD_REJECTED',
  'RATE_LIMITED',
  'UNKNOWN_SERVICE',
]);

/** Business refusals: definite answers, never retried. */
const REFUSALS: Readonly<Record<string, Reason>> = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  UNKNOWN_SKU: 'UNKNOWN_PRODUCT',
};

/**
 * Classifies the error of a failed call of `step`.
 *
 * @example
 * classifyFailure('process_payment', err); // { reason: 'PAYMENT_DECLINED', retryable: false, … } for a 402
 */
export function classifyFailure(step: CallStep, err: unknown): StepFailure {
  const unavailable: Reason = step === 'process_payment' ? 'PAYMENT_UNAVAILABLE' : 'INVENTORY_UNAVAILABLE';
  const cause = unwrap(err);
  const detail = `${step}: ${describe(cause)}`.slice(0, 500);
  const failure = (reason: Reason, code: string, retryable: boolean, uncertain: boolean): StepFailure => ({
    reason,
    code,
    retryable,
    uncertain,
    detail,
  });
  if (isUpstreamError(cause)) {
    const code = cause.code;
    // A 2xx that does not match the contract: the participant acted, we cannot read what it did.
    if (code === 'BAD_RESPONSE') return failure('FAILED', code, true, true);
    const refusal = REFUSALS[code];
    if (refusal !== undefined && cause.status < 500) return failure(refusal, code, false, false);
    // 503 and 429 mean "not processed"; 502/504/408 and other 5xx may hide a success.
    if (cause.status === 503 || cause.status === 429) return failure(unavailable, code, true, false);
    if (cause.status >= 500 || cause.status === 408) return failure(unavailable, code, true, true);
    // Another client error is a contract mismatch: retrying cannot help. RESERVATION_EXISTS
    // means the order holds a reservation this saga did not make: its compensation must look.
    return failure('FAILED', code, false, code === 'RESERVATION_EXISTS');
  }
  if (isUpstreamUnavailableError(cause)) {
    const network = networkCode(cause);
    return failure(unavailable, cause.code, true, network === undefined || !NOT_CONNECTED.has(network));
  }
  const code = flotillaCode(cause);
  if (code !== undefined && NOT_SENT.has(code)) return failure(unavailable, code, true, false);
  if (isTimeoutError(cause)) return failure(unavailable, 'TIMEOUT', true, true);
  // Anything else (the runner closing mid-call, a bug): try again, and assume the worst.
  return failure('FAILED', code ?? 'UNEXPECTED', true, true);
}

/** Thrown by a fulfillment step for a failed call: carries the classification the saga acts on. */
export class FulfillmentStepError extends FlotillaError {
  override readonly name = 'FulfillmentStepError';
  /** Read by the saga runner: `false` fails the step at once. */
  readonly retryable: boolean;
  /** The classification. */
  readonly failure: StepFailure;

  constructor(failure: StepFailure, options?: { cause?: unknown }) {
    super('FULFILLMENT_STEP_FAILED', `${failure.reason} (${failure.code}): ${failure.detail}`, options);
    this.failure = failure;
    this.retryable = failure.retryable;
  }
}

/** True when `err` is a {@link FulfillmentStepError}. */
export function isFulfillmentStepError(err: unknown): err is FulfillmentStepError {
  return hasFlotillaCode(err, 'FULFILLMENT_STEP_FAILED');
}

/** The cause of a client's "retries exhausted" wrapper, which says nothing by itself. */
function unwrap(err: unknown): unknown {
  if (hasFlotillaCode(err, 'RETRIES_EXHAUSTED')) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined) return unwrap(cause);
  }
  return err;
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UPSTREAM_UNAVAILABLE') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
