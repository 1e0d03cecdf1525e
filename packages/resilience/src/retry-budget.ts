import { type Clock, systemClock } from './clock.js';

/** Options of {@link retryBudget}. */
export interface RetryBudgetOptions {
  /**
   * Retries (and hedges) allowed per execution over the window: 0.2 lets retries add at most
   * 20% to the load an upstream sees.
   * @default 0.2
   */
  ratio?: number;
  /**
   * A floor for quiet callers: on top of `ratio`, `minRetriesPerSecond × windowMs / 1000` retries
   * are allowed in every window, so a service making few calls can still retry.
   * @default 10
   */
  minRetriesPerSecond?: number;
  /**
   * Length of the rolling window, in milliseconds. It slides in tenths.
   * @default 10000
   */
  windowMs?: number;
  /**
   * Source of time for the window; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
}

/** The state of a {@link RetryBudget} over its current window. */
export interface RetryBudgetSnapshot {
  /** Executions deposited in the window (rounded; see {@link retryBudget} on precision). */
  readonly deposits: number;
  /** Retries and hedges withdrawn in the window. */
  readonly withdrawals: number;
  /** Retries that may be withdrawn now. */
  readonly available: number;
  /** The configured ratio. */
  readonly ratio: number;
  /** The configured floor, in retries per second. */
  readonly minRetriesPerSecond: number;
  /** The window length, in milliseconds. */
  readonly windowMs: number;
}

/**
 * A budget that bounds retries (and hedges) to a fraction of the calls made, shared by any
 * number of policies — typically one budget per upstream service.
 */
export interface RetryBudget {
  /** Records one execution. Policies call it once per execution, not per attempt. */
  deposit(): void;
  /** Takes one retry from the budget; false (and nothing taken) when the budget is spent. */
  tryWithdraw(): boolean;
  /** Retries that may be withdrawn now. */
  available(): number;
  /** The budget's current window, for dashboards. */
  snapshot(): RetryBudgetSnapshot;
}

const BUCKETS = 10;
// Spreading deposits over buckets makes fractional counts; this keeps 0.2 × 5 from flooring to 0.
const EPSILON = 1e-9;

/**
 * Creates a retry budget in the manner of Finagle's `RetryBudget`: every execution deposits,
 * every retry withdraws, and within any rolling `windowMs` at most
 * `ratio × executions + minRetriesPerSecond × windowMs / 1000` retries are allowed. Unlike a
 * per-policy `maxAttempts`, this stops retry storms: when an upstream fails every call, the
 * extra load retries add stays near `ratio` instead of multiplying it.
 *
 * Precision: `deposit()` is one increment and never reads the clock; the window slides when the
 * clock is read by `tryWithdraw`, `available` or `snapshot`. Deposits made between two such
 * reads are assumed to have arrived evenly over that interval. Under steady traffic the window
 * is exact to one bucket (`windowMs / 10`); a burst just before a read is partly attributed to
 * earlier buckets, so it can expire up to the length of the quiet interval early (never late:
 * the error only ever shrinks the budget).
 *
 * @example
 * const inventoryBudget = retryBudget({ ratio: 0.1 });
 * const reads = retry({ maxAttempts: 3, budget: inventoryBudget });
 * const writes = retry({ maxAttempts: 2, budget: inventoryBudget });
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  return new TokenRetryBudget(options);
}

class TokenRetryBudget implements RetryBudget {
  private readonly clock: Clock;
  private readonly ratio: number;
  private readonly minRetriesPerSecond: number;
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly reserve: number;
  private readonly deposits: Float64Array;
  private readonly withdrawals: Uint32Array;
  /** Deposits since the clock was last read, not yet placed in a bucket. */
  private pending: number;
  private lastReadAt: number;
  /** Absolute index (time / bucketMs) of the bucket `lastReadAt` falls in. */
  private currentIndex: number;

  constructor(options: RetryBudgetOptions) {
    const { ratio = 0.2, minRetriesPerSecond = 10, windowMs = 10_000, clock = systemClock } = options;
    if (typeof ratio !== 'number' || !(ratio >= 0) || !Number.isFinite(ratio))
      throw new RangeError(`retryBudget.ratio must be a finite number >= 0, got ${String(ratio)}`);
    if (
      typeof minRetriesPerSecond !== 'number' ||
      !(minRetriesPerSecond >= 0) ||
      !Number.isFinite(minRetriesPerSecond)
    )
      throw new RangeError(
        `retryBudget.minRetriesPerSecond must be a finite number >= 0, got ${String(minRetriesPerSecond)}`,
      );
    if (typeof windowMs !== 'number' || !(windowMs > 0) || !Number.isFinite(windowMs))
      throw new RangeError(`retryBudget.windowMs must be a finite number > 0, got ${String(windowMs)}`);
    this.clock = clock;
    this.ratio = ratio;
    this.minRetriesPerSecond = minRetriesPerSecond;
    this.windowMs = windowMs;
    this.bucketMs = windowMs / BUCKETS;
    this.reserve = (minRetriesPerSecond * windowMs) / 1000;
    this.deposits = new Float64Array(BUCKETS);
    this.withdrawals = new Uint32Array(BUCKETS);
    this.pending = 0;
    this.lastReadAt = clock.now();
    this.currentIndex = Math.floor(this.lastReadAt / this.bucketMs);
  }

  deposit(): void {
    this.pending++;
  }

  tryWithdraw(): boolean {
    this.advance(this.clock.now());
    if (this.tokens() < 1) return false;
    const i = this.currentIndex % BUCKETS;
    this.withdrawals[i] = (this.withdrawals[i] ?? 0) + 1;
    return true;
  }

  available(): number {
    this.advance(this.clock.now());
    return Math.max(0, Math.floor(this.tokens()));
  }

  snapshot(): RetryBudgetSnapshot {
    this.advance(this.clock.now());
    let deposits = 0;
    let withdrawals = 0;
    for (let i = 0; i < BUCKETS; i++) {
      deposits += this.deposits[i] ?? 0;
      withdrawals += this.withdrawals[i] ?? 0;
    }
    return {
      deposits: Math.round(deposits),
      withdrawals,
      available: Math.max(0, Math.floor(this.tokens())),
      ratio: this.ratio,
      minRetriesPerSecond: this.minRetriesPerSecond,
      windowMs: this.windowMs,
    };
  }

  /** Retry tokens in the window, fractional. Call after {@link advance}. */
  private tokens(): number {
    let deposits = 0;
    let withdrawals = 0;
    for (let i = 0; i < BUCKETS; i++) {
      deposits += this.deposits[i] ?? 0;
      withdrawals += this.withdrawals[i] ?? 0;
    }
    return this.ratio * deposits + this.reserve - withdrawals + EPSILON;
  }

  /** Slides the window to `now` and spreads the pending deposits over the time since the last read. */
  private advance(now: number): void {
    if (now < this.lastReadAt) now = this.lastReadAt;
    const bucketMs = this.bucketMs;
    const index = Math.floor(now / bucketMs);
    const oldest = index - BUCKETS + 1;
    for (let k = Math.max(this.currentIndex + 1, oldest); k <= index; k++) {
      this.deposits[k % BUCKETS] = 0;
      this.withdrawals[k % BUCKETS] = 0;
    }
    const pending = this.pending;
    if (pending > 0) {
      const from = this.lastReadAt;
      const span = now - from;
      if (span <= 0) {
        this.deposits[index % BUCKETS] = (this.deposits[index % BUCKETS] ?? 0) + pending;
      } else {
        // Only the part of [from, now] still inside the window keeps its share.
        for (let k = Math.max(this.currentIndex, oldest); k <= index; k++) {
          const overlap = Math.min(now, (k + 1) * bucketMs) - Math.max(from, k * bucketMs);
          if (overlap > 0)
            this.deposits[k % BUCKETS] = (this.deposits[k % BUCKETS] ?? 0) + (pending * overlap) / span;
        }
      }
      this.pending = 0;
    }
    this.lastReadAt = now;
    this.currentIndex = index;
  }
}
