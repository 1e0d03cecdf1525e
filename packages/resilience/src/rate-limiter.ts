import type { Scope, Work } from './context.js';
import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from './errors.js';
import {
  type OutcomeEvent,
  type Policy,
  PolicyBase,
  type PolicyOptions,
  proceed,
  RUN,
  type Runnable,
} from './policy.js';
import { type TokenBucket, tokenBucket } from './token-bucket.js';

/** Raised when a rate limiter has no token for a call and may not wait long enough for one. */
export class RateLimitedError extends FlotillaError {
  override readonly name = 'RateLimitedError';
  readonly retryable = true;

  constructor(
    /** Milliseconds until a token would be available to this call (fractional). */
    readonly retryAfterMs: number,
    options?: FlotillaErrorOptions,
  ) {
    super('RATE_LIMITED', `rate limit exceeded; retry in ${Math.ceil(retryAfterMs)} ms`, options);
  }
}

/** True when `err` is a {@link RateLimitedError} (from any copy of this package). */
export function isRateLimitedError(err: unknown): err is RateLimitedError {
  return hasFlotillaCode(err, 'RATE_LIMITED');
}

/** Options of {@link rateLimiter}. */
export interface RateLimiterOptions extends PolicyOptions {
  /** Sustained rate, in calls per second (> 0; fractions allowed, e.g. 0.5). */
  ratePerSecond: number;
  /**
   * Calls allowed at once after a quiet period: the bucket's capacity, in calls (>= 1).
   * @default ratePerSecond (and at least 1)
   */
  burst?: number;
  /**
   * Longest a call may wait for its token, in milliseconds; a call that would wait longer is
   * rejected with {@link RateLimitedError}. 0 rejects at once.
   * @default 0
   */
  maxWaitMs?: number;
}

/** Events of a rate limiter. */
export type RateLimiterEvent =
  | OutcomeEvent
  | {
      /** A call was refused: no token, and waiting for one would take more than `maxWaitMs`. */
      readonly type: 'rejection';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** Milliseconds until a token would have been available. */
      readonly retryAfterMs: number;
    }
  | {
      /** A call waits for its token before it runs. */
      readonly type: 'wait';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** How long it waits, in milliseconds. */
      readonly delayMs: number;
    };

/** A client-side rate limiter. */
export interface RateLimiterPolicy extends Policy<RateLimiterEvent> {
  /** Always `'rate-limiter'`. */
  readonly kind: 'rate-limiter';
  /** Sustained rate, in calls per second. */
  readonly ratePerSecond: number;
  /** Capacity of the bucket, in calls. */
  readonly burst: number;
  /** Longest wait for a token, in milliseconds. */
  readonly maxWaitMs: number;
  /** Calls waiting for their token now. */
  readonly waiting: number;
}

/**
 * Limits how often work runs, with a token bucket: `burst` calls at once, then `ratePerSecond`.
 * A call without a token waits for one when that takes at most `maxWaitMs` (waiters run in
 * arrival order; a waiter whose caller aborts gives its token back), and is otherwise rejected
 * with a {@link RateLimitedError} carrying `retryAfterMs`. Use it to stay within a downstream
 * quota; the token bucket needs no timer until a call actually waits.
 *
 * @example
 * const github = rateLimiter({ ratePerSecond: 10, burst: 20, maxWaitMs: 500 });
 * const repo = await github.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiterPolicy {
  return new RateLimiter(options);
}

class RateLimiter extends PolicyBase<RateLimiterEvent> implements RateLimiterPolicy {
  readonly kind = 'rate-limiter' as const;
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxWaitMs: number;
  private waiters: number;
  private readonly bucket: TokenBucket;
  /** Pre-bound completion handlers of the untimed path: no closure per call. */
  private readonly onOk: () => void;
  private readonly onError: (error: unknown) => void;

  constructor(options: RateLimiterOptions) {
    super('rate-limiter', options);
    const { ratePerSecond, maxWaitMs = 0 } = options;
    if (typeof ratePerSecond !== 'number' || !(ratePerSecond > 0) || !Number.isFinite(ratePerSecond))
      throw new RangeError(
        `rateLimiter.ratePerSecond must be a finite number > 0, got ${String(ratePerSecond)}`,
      );
    const burst = options.burst ?? Math.max(1, ratePerSecond);
    if (typeof burst !== 'number' || !(burst >= 1) || !Number.isFinite(burst))
      throw new RangeError(`rateLimiter.burst must be a finite number >= 1, got ${String(burst)}`);
    if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0))
      throw new RangeError(`rateLimiter.maxWaitMs must be a number >= 0, got ${String(maxWaitMs)}`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.maxWaitMs = maxWaitMs;
    this.waiters = 0;
    this.bucket = tokenBucket({ capacity: burst, refillPerSecond: ratePerSecond, clock: this.clock });
    this.onOk = () => this.metrics.success();
    this.onError = (error) => this.recordFailure(-1, error);
  }

  get waiting(): number {
    return this.waiters;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    this.metrics.call();
    const waitMs = this.bucket.tryTake(1);
    if (waitMs === 0) return this.run(fn, scope, chain, index);
    if (waitMs > this.maxWaitMs) {
      this.metrics.rejection(this.clock.now());
      if (this.events.active)
        this.events.emit({ type: 'rejection', policy: this.name, retryAfterMs: waitMs });
      return Promise.reject(new RateLimitedError(waitMs));
    }
    return this.wait(fn, scope, chain, index);
  }

  /** Reserves the next token (so later arrivals queue behind this call) and runs when it arrives. */
  private wait<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    const delayMs = this.bucket.reserve(1);
    if (this.events.active) this.events.emit({ type: 'wait', policy: this.name, delayMs });
    this.waiters++;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiters--;
        abort?.dispose();
        resolve(this.run(fn, scope, chain, index));
      }, delayMs);
      // A waiter that gives up was never run: neither a success nor a failure of the upstream.
      const abort = scope.cancellable
        ? scope.onAbort((reason) => {
            this.waiters--;
            this.clock.clearTimeout(timer);
            this.bucket.refund(1);
            reject(reason);
          })
        : undefined;
    });
  }

  private run<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    const start = this.timed() ? this.clock.now() : -1;
    let work: Promise<T>;
    try {
      work = proceed(fn, scope, chain, index);
    } catch (err) {
      work = Promise.reject(err);
    }
    // Outcomes are counted by a side reaction and the work's own promise is returned: the caller
    // resumes a microtask turn sooner than through a derived promise (see bulkhead.ts).
    if (start < 0) void work.then(this.onOk, this.onError);
    else
      void work.then(
        () => this.recordSuccess(start),
        (error: unknown) => this.recordFailure(start, error),
      );
    return work;
  }

  protected override details() {
    return {
      tokens: this.bucket.available(),
      waiting: this.waiters,
      ratePerSecond: this.ratePerSecond,
      burst: this.burst,
    };
  }
}
