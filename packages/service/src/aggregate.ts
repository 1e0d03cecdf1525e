import { type Clock, flotillaCode, systemClock, TimeoutError, type TimerHandle } from '@flotilla/resilience';
import { isUpstreamError } from './upstream-error.js';

/** The work of one part: a call, given a signal that aborts at the part's timeout. */
export type PartWork<T> = (context: { readonly signal: AbortSignal }) => T | PromiseLike<T>;

/** A part with its own settings. */
export interface PartOptions<T, F = never> {
  /** The work. */
  readonly run: PartWork<T>;
  /** Time allowed for this part, in milliseconds, instead of {@link AggregateOptions.timeoutMs}. */
  readonly timeoutMs?: number;
  /** A value to show instead when the part fails; it is the failure result's `value`. */
  readonly fallback?: F;
}

/** One part of an aggregate: its work, or its work with settings. */
// biome-ignore lint/suspicious/noExplicitAny: parts of every value and fallback type live in one record
export type Part = PartWork<any> | PartOptions<any, any>;

/** How a part failed. */
export type PartFailureStatus = 'error' | 'unavailable' | 'timeout' | 'not_found';

/** A part that failed: why, and its fallback value if it has one. */
export interface PartFailure<F = never> {
  /**
   * `unavailable`: open circuit, unreachable upstream, full bulkhead, 502/503;
   * `timeout`: the part's timeout, the call's timeout or a 504; `not_found`: a 404;
   * `error`: anything else.
   */
  readonly status: PartFailureStatus;
  /** The error's code (`BROKEN_CIRCUIT`, `ORDER_NOT_FOUND`, …; `INTERNAL` for non-Flotilla errors). */
  readonly code: string;
  /** A sentence for humans. */
  readonly message: string;
  /** The upstream's HTTP status, when the part failed on an error response. */
  readonly httpStatus?: number;
  /** The part's fallback value, when it has one. */
  readonly value?: F;
}

/** A part that succeeded. */
export interface PartSuccess<T> {
  readonly status: 'ok';
  readonly value: T;
}

/** The result of one part. */
export type PartResult<T, F = never> = PartSuccess<T> | PartFailure<F>;

type ValueOf<P> = P extends { readonly run: (...args: never[]) => infer R }
  ? Awaited<R>
  : P extends (...args: never[]) => infer R
    ? Awaited<R>
    : never;
type FallbackOf<P> = P extends { readonly fallback: infer F } ? F : never;

/** The results of an aggregate, typed per key. */
export type AggregateResult<P extends Readonly<Record<string, Part>>> = {
  readonly [K in keyof P]: PartResult<ValueOf<P[K]>, FallbackOf<P[K]>>;
};

/** Options of {@link aggregate}. */
export interface AggregateOptions {
  /**
   * Time allowed for each part, in milliseconds; a part still running then is aborted and
   * reported as `timeout`.
   * @default no limit (each call's own timeout and deadline still apply)
   */
  timeoutMs?: number;
  /** Cancels every part; the aggregate then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Source of time for part timeouts; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
}

/**
 * Runs several named calls at once and reports each one's outcome instead of failing as a
 * whole, so a view can show what it has when a part is down (the order view shows the order
 * even when payment is unavailable).
 *
 * @example
 * const view = await aggregate(
 *   {
 *     order: ({ signal }) => orders.get<Order>(`/orders/${id}`, { signal }),
 *     payment: ({ signal }) => payments.get<Payment>(`/payments/by-order/${id}`, { signal }),
 *     shipment: { run: ({ signal }) => shipping.get<Shipment>(`/shipments/${id}`, { signal }), fallback: null },
 *   },
 *   { timeoutMs: 800 },
 * );
 * if (view.order.status !== 'ok') throw view.order;
 */
export async function aggregate<const P extends Readonly<Record<string, Part>>>(
  parts: P,
  options: AggregateOptions = {},
): Promise<AggregateResult<P>> {
  const { signal, clock = systemClock, timeoutMs } = options;
  if (timeoutMs !== undefined) checkTimeout(timeoutMs, 'aggregate.timeoutMs');
  if (signal?.aborted) throw signal.reason;
  const keys = Object.keys(parts);
  for (const key of keys) {
    const part = parts[key];
    if (
      typeof part !== 'function' &&
      (typeof part !== 'object' || part === null || typeof part.run !== 'function')
    )
      throw new TypeError(`aggregate part "${key}" must be a function or { run, timeoutMs?, fallback? }`);
    if (typeof part === 'object' && part.timeoutMs !== undefined)
      checkTimeout(part.timeoutMs, `aggregate part "${key}".timeoutMs`);
  }
  const results = await Promise.all(keys.map((key) => runPart(parts[key] as Part, timeoutMs, clock, signal)));
  if (signal?.aborted) throw signal.reason;
  const out: Record<string, PartResult<unknown, unknown>> = {};
  keys.forEach((key, i) => {
    out[key] = results[i] as PartResult<unknown, unknown>;
  });
  return out as AggregateResult<P>;
}

function runPart(
  part: Part,
  defaultTimeoutMs: number | undefined,
  clock: Clock,
  outer: AbortSignal | undefined,
): Promise<PartResult<unknown, unknown>> {
  const work: PartWork<unknown> = typeof part === 'function' ? part : part.run;
  const timeoutMs = (typeof part === 'function' ? undefined : part.timeoutMs) ?? defaultTimeoutMs;
  const hasFallback = typeof part !== 'function' && 'fallback' in part;
  const fallback = hasFallback ? (part as PartOptions<unknown, unknown>).fallback : undefined;
  const controller = new AbortController();

  return new Promise((resolve) => {
    let settled = false;
    let timer: TimerHandle | undefined;
    const finish = (result: PartResult<unknown, unknown>): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      resolve(result);
    };
    const fail = (error: unknown): void => {
      const failure = classify(error);
      finish(hasFallback ? { ...failure, value: fallback } : failure);
    };
    // The whole aggregate rejects on the caller's abort; the part's result no longer matters.
    const onOuterAbort = (): void => {
      controller.abort(outer?.reason);
      finish({ status: 'error', code: 'ABORTED', message: 'aborted' });
    };
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    // Aggressive on purpose: the part is told to stop, but the view is not held back by a part
    // that ignores its signal.
    if (timeoutMs !== undefined)
      timer = clock.setTimeout(() => {
        const error = new TimeoutError(timeoutMs);
        controller.abort(error);
        fail(error);
      }, timeoutMs);
    try {
      Promise.resolve(work({ signal: controller.signal })).then(
        (value) => finish({ status: 'ok', value }),
        fail,
      );
    } catch (err) {
      fail(err);
    }
  });
}

/** The failure result for `error` (a retry's exhaustion is judged by its last attempt). */
function classify(error: unknown): PartFailure {
  let err = error;
  while (flotillaCode(err) === 'RETRIES_EXHAUSTED' && (err as Error).cause !== undefined)
    err = (err as Error).cause;
  const code = flotillaCode(err);
  const message = code !== undefined ? (err as Error).message : 'internal error';
  if (isUpstreamError(err)) {
    const status: PartFailureStatus =
      err.status === 404
        ? 'not_found'
        : err.status === 502 || err.status === 503
          ? 'unavailable'
          : err.status === 504
            ? 'timeout'
            : 'error';
    return { status, code: err.code, message, httpStatus: err.status };
  }
  switch (code) {
    case 'TIMEOUT':
      return { status: 'timeout', code, message };
    case 'BROKEN_CIRCUIT':
    case 'ISOLATED_CIRCUIT':
    case 'UPSTREAM_UNAVAILABLE':
    case 'BULKHEAD_REJECTED':
      return { status: 'unavailable', code, message };
    case undefined:
      return { status: 'error', code: 'INTERNAL', message };
    default:
      return { status: 'error', code, message };
  }
}

function checkTimeout(value: unknown, field: string): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    throw new RangeError(`${field} must be a finite number > 0, got ${String(value)}`);
}
