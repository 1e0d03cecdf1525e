import { type Backoff, exponentialBackoff } from './backoff.js';
import type { RandomSource } from './clock.js';
import type { Scope, Work } from './context.js';
import type { Disposable, Listener } from './disposable.js';
import { FlotillaError, flotillaCode, hasFlotillaCode } from './errors.js';
import type { ErrorFilter, ResultFilter } from './handlers.js';
import {
  type OutcomeEvent,
  type Policy,
  PolicyBase,
  type PolicyOptions,
  proceed,
  RUN,
  type Runnable,
} from './policy.js';
import type { RetryBudget } from './retry-budget.js';

/** Why a retry policy stopped retrying a handled failure. */
export type RetryGiveUpReason = 'max-attempts' | 'budget' | 'retry-after-too-long';

/**
 * Raised when a retry policy stops retrying a handled error. `retryable` is false: the retries
 * already happened, so an outer retry should not multiply them.
 */
export class RetriesExhaustedError extends FlotillaError {
  override readonly name = 'RetriesExhaustedError';
  readonly retryable = false;

  constructor(
    /** Attempts made, the first one included. */
    readonly attempts: number,
    /** Why retrying stopped. */
    readonly reason: RetryGiveUpReason,
    /** The last attempt's error. */
    cause: unknown,
  ) {
    super('RETRIES_EXHAUSTED', `gave up after ${attempts} attempt(s) (${reason}): ${describe(cause)}`, {
      cause,
    });
  }
}

/** True when `err` is a {@link RetriesExhaustedError} (from any copy of this package). */
export function isRetriesExhaustedError(err: unknown): err is RetriesExhaustedError {
  return hasFlotillaCode(err, 'RETRIES_EXHAUSTED');
}

/**
 * Acts on every error except Flotilla errors that say a retry cannot help (`retryable: false`,
 * e.g. {@link RetriesExhaustedError}). The default filter of `retry` and `hedging`.
 */
export const handleRetryable: ErrorFilter = (error) =>
  flotillaCode(error) === undefined || (error as { retryable?: unknown }).retryable !== false;

/** The outcome of a failed attempt, as seen by {@link RetryOptions.retryAfter}. */
export type RetryOutcome =
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'result'; readonly value: unknown };

/** Options of {@link retry}. */
export interface RetryOptions extends PolicyOptions {
  /**
   * Attempts in total, the first one included; `Infinity` retries until success, abort, or the budget runs out.
   * @default 3
   */
  maxAttempts?: number;
  /**
   * Delay before each retry.
   * @default exponentialBackoff()
   */
  backoff?: Backoff;
  /**
   * Which errors to retry. Others pass through unchanged.
   * @default handleRetryable (every error but Flotilla errors with `retryable: false`)
   */
  handle?: ErrorFilter;
  /**
   * Which returned values to retry (a 503 response, say). When attempts run out the last value
   * is returned, not an error.
   * @default none
   */
  handleResult?: ResultFilter;
  /**
   * A server's hint of how long to wait, in milliseconds (from HTTP `Retry-After`, say), or
   * `undefined` for none. The wait is the larger of the hint and the backoff delay.
   * @default reads a numeric `retryAfterMs` property of the error
   */
  retryAfter?: (outcome: RetryOutcome) => number | undefined;
  /**
   * A hint longer than this, in milliseconds, makes the policy give up at once instead of waiting.
   * @default 30000
   */
  maxRetryAfterMs?: number;
  /** A budget each retry withdraws from (and each execution deposits into); no token, no retry. */
  budget?: RetryBudget;
  /**
   * Source of uniform numbers in [0, 1) for jitter; pass a seeded one in tests.
   * @default Math.random
   */
  random?: RandomSource;
}

/** Emitted before waiting for a retry. */
export interface RetryScheduledEvent {
  /** A retry was scheduled. */
  readonly type: 'retry';
  /** Name of the emitting policy. */
  readonly policy: string;
  /** The attempt about to run after the delay: 2 for the first retry (as the work sees it). */
  readonly attempt: number;
  /** The wait before it, in milliseconds. */
  readonly delayMs: number;
  /** The error that is retried, when an error is. */
  readonly error?: unknown;
  /** The value that is retried, when a result is. */
  readonly value?: unknown;
}

/** Emitted when a handled failure is not retried any more. */
export interface RetryGiveUpEvent {
  /** The policy stopped retrying. */
  readonly type: 'give-up';
  /** Name of the emitting policy. */
  readonly policy: string;
  /** Attempts made, the first one included. */
  readonly attempts: number;
  /** Why it stopped. */
  readonly reason: RetryGiveUpReason;
  /** The last error, when the last attempt threw. */
  readonly error?: unknown;
  /** The last value, when the last attempt returned a handled result. */
  readonly value?: unknown;
}

/** Events of a retry policy. */
export type RetryEvent = OutcomeEvent | RetryScheduledEvent | RetryGiveUpEvent;

/** A retry policy. */
export interface RetryPolicy extends Policy<RetryEvent> {
  readonly kind: 'retry';
  /** Attempts in total, the first one included (see {@link RetryOptions.maxAttempts}). */
  readonly maxAttempts: number;
  /** Calls `listener` before each retry's wait; the handle unsubscribes. */
  onRetry(listener: Listener<RetryScheduledEvent>): Disposable;
  /** Calls `listener` when the policy gives up; the handle unsubscribes. */
  onGiveUp(listener: Listener<RetryGiveUpEvent>): Disposable;
}

/**
 * Runs work again when it fails with a handled error (or returns a handled result), waiting
 * between attempts. Put it inside a total timeout and outside the circuit breaker, so an open
 * breaker stops the retries and the total time stays bounded. The caller's abort stops a wait
 * at once and is never retried.
 *
 * @example
 * const policy = retry({
 *   maxAttempts: 4,
 *   backoff: exponentialBackoff({ initialDelayMs: 50, maxDelayMs: 2_000 }),
 *   handleResult: (res) => (res as Response).status === 503,
 *   budget: retryBudget(),
 * });
 * const res = await policy.execute(({ signal, attempt }) => fetch(url, { signal, headers: { 'x-attempt': `${attempt}` } }));
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new Retry(options);
}

class Retry extends PolicyBase<RetryEvent> implements RetryPolicy {
  readonly kind = 'retry' as const;
  readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly handle: ErrorFilter;
  private readonly handleResult: ResultFilter | undefined;
  private readonly retryAfter: (outcome: RetryOutcome) => number | undefined;
  private readonly maxRetryAfterMs: number;
  private readonly budget: RetryBudget | undefined;
  private readonly random: RandomSource;
  private retries: number;
  private givenUp: number;

  constructor(options: RetryOptions) {
    super('retry', options);
    const { maxAttempts = 3, maxRetryAfterMs = 30_000 } = options;
    if (
      typeof maxAttempts !== 'number' ||
      !(maxAttempts >= 1) ||
      !(Number.isInteger(maxAttempts) || maxAttempts === Infinity)
    )
      throw new RangeError(
        `retry.maxAttempts must be an integer >= 1 or Infinity, got ${String(maxAttempts)}`,
      );
    if (typeof maxRetryAfterMs !== 'number' || !(maxRetryAfterMs >= 0) || !Number.isFinite(maxRetryAfterMs))
      throw new RangeError(
        `retry.maxRetryAfterMs must be a finite number >= 0, got ${String(maxRetryAfterMs)}`,
      );
    for (const field of ['handle', 'handleResult', 'retryAfter', 'random'] as const) {
      const f = options[field];
      if (f !== undefined && typeof f !== 'function')
        throw new TypeError(`retry.${field} must be a function, got ${typeof f}`);
    }
    if (options.backoff !== undefined && typeof options.backoff?.delayMs !== 'function')
      throw new TypeError('retry.backoff must be a Backoff (an object with a delayMs method)');
    this.maxAttempts = maxAttempts;
    this.backoff = options.backoff ?? exponentialBackoff();
    this.handle = options.handle ?? handleRetryable;
    this.handleResult = options.handleResult;
    this.retryAfter = options.retryAfter ?? retryAfterMsOf;
    this.maxRetryAfterMs = maxRetryAfterMs;
    this.budget = options.budget;
    this.random = options.random ?? Math.random;
    this.retries = 0;
    this.givenUp = 0;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    this.metrics.call();
    this.budget?.deposit();
    const start = this.timed() ? this.clock.now() : -1;
    if (start >= 0 || this.handleResult !== undefined)
      return this.run(fn, scope, chain, index, start, undefined);
    // The common case: untimed, errors only. The success handler is pre-bound; only the rejection
    // handler, which needs this call's state to retry, is a closure. (An async method avoids
    // that closure but measured about a third slower per call.)
    return proceed(fn, scope.withAttempt(1), chain, index).then(this.onFirstSuccess, (error: unknown) =>
      this.run(fn, scope, chain, index, start, { error }),
    );
  }

  private readonly onFirstSuccess = <T>(value: T): T => {
    this.metrics.success();
    return value;
  };

  onRetry(listener: Listener<RetryScheduledEvent>): Disposable {
    return this.events.on((e) => {
      if (e.type === 'retry') listener(e);
    });
  }

  onGiveUp(listener: Listener<RetryGiveUpEvent>): Disposable {
    return this.events.on((e) => {
      if (e.type === 'give-up') listener(e);
    });
  }

  protected override details() {
    return { retries: this.retries, givenUp: this.givenUp };
  }

  /**
   * The attempt loop, for every call but the untimed first-attempt success. `first` is the first
   * attempt's error when the fast path already ran it.
   */
  private async run<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
    start: number,
    first: { readonly error: unknown } | undefined,
  ): Promise<T> {
    let attempt = 1;
    let previousDelayMs = 0;
    for (;;) {
      let failed = false;
      let error: unknown;
      let value: T | undefined;
      if (attempt === 1 && first !== undefined) {
        failed = true;
        error = first.error;
      } else {
        // The caller may have aborted between the end of the wait and this continuation.
        if (scope.aborted) {
          this.recordFailure(start, scope.reason);
          throw scope.reason;
        }
        try {
          value = await proceed(fn, scope.withAttempt(attempt), chain, index);
        } catch (err) {
          failed = true;
          error = err;
        }
      }
      if (!failed) {
        if (this.handleResult === undefined || !this.handleResult(value)) {
          this.recordSuccess(start);
          return value as T;
        }
      } else if (scope.aborted || !this.handle(error)) {
        this.recordFailure(start, error);
        throw error;
      }
      const outcome: RetryOutcome = failed ? { kind: 'error', error } : { kind: 'result', value };
      const hint = attempt < this.maxAttempts ? this.hint(outcome) : undefined;
      const reason: RetryGiveUpReason | undefined =
        attempt >= this.maxAttempts
          ? 'max-attempts'
          : hint !== undefined && hint > this.maxRetryAfterMs
            ? 'retry-after-too-long'
            : this.budget !== undefined && !this.budget.tryWithdraw()
              ? 'budget'
              : undefined;
      if (reason !== undefined) return this.giveUp(start, attempt, reason, outcome);

      const backoffMs = this.backoff.delayMs(attempt, previousDelayMs, this.random);
      if (typeof backoffMs !== 'number' || !(backoffMs >= 0) || !Number.isFinite(backoffMs)) {
        const invalid = new RangeError(
          `retry.backoff returned an invalid delay for retry ${attempt}: ${String(backoffMs)}`,
        );
        this.recordFailure(start, invalid);
        throw invalid;
      }
      previousDelayMs = backoffMs;
      const delayMs = hint === undefined ? backoffMs : Math.max(backoffMs, hint);
      attempt++;
      this.retries++;
      if (this.events.active)
        this.events.emit(
          failed
            ? { type: 'retry', policy: this.name, attempt, delayMs, error }
            : { type: 'retry', policy: this.name, attempt, delayMs, value },
        );
      try {
        await this.wait(delayMs, scope);
      } catch (abortReason) {
        this.recordFailure(start, abortReason);
        throw abortReason;
      }
    }
  }

  /** The server's hint for `outcome`, in milliseconds; nonsense (NaN, non-numbers) counts as none. */
  private hint(outcome: RetryOutcome): number | undefined {
    const h = this.retryAfter(outcome);
    return typeof h === 'number' && !Number.isNaN(h) ? Math.max(0, h) : undefined;
  }

  private giveUp<T>(start: number, attempts: number, reason: RetryGiveUpReason, outcome: RetryOutcome): T {
    this.givenUp++;
    const last = outcome.kind === 'error' ? outcome.error : outcome.value;
    this.recordFailure(start, last);
    if (this.events.active)
      this.events.emit(
        outcome.kind === 'error'
          ? { type: 'give-up', policy: this.name, attempts, reason, error: outcome.error }
          : { type: 'give-up', policy: this.name, attempts, reason, value: outcome.value },
      );
    if (outcome.kind === 'error') throw new RetriesExhaustedError(attempts, reason, outcome.error);
    // A retried result is still a result: hand back the last one, as Polly and cockatiel do.
    return outcome.value as T;
  }

  /**
   * Waits `delayMs` on the policy's clock, or rejects with the caller's reason as soon as the
   * scope aborts. Even a zero delay goes through the clock: a retry loop that never yields to
   * the event loop would starve the very timers (a total timeout) meant to stop it.
   */
  private wait(delayMs: number, scope: Scope): Promise<void> {
    if (scope.aborted) return Promise.reject(scope.reason);
    return new Promise<void>((resolve, reject) => {
      let subscription: Disposable | undefined;
      const timer = this.clock.setTimeout(() => {
        subscription?.dispose();
        resolve();
      }, delayMs);
      if (scope.cancellable)
        subscription = scope.onAbort((reason) => {
          this.clock.clearTimeout(timer);
          reject(reason);
        });
    });
  }
}

/** The default {@link RetryOptions.retryAfter}: a numeric `retryAfterMs` on the error. */
function retryAfterMsOf(outcome: RetryOutcome): number | undefined {
  if (outcome.kind !== 'error' || typeof outcome.error !== 'object' || outcome.error === null)
    return undefined;
  const ms = (outcome.error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' ? ms : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
