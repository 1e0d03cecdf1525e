import { type Clock, deadlineNow, systemClock } from './clock.js';

/** Options of {@link tokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens the bucket holds: the largest burst, in tokens (> 0). */
  capacity: number;
  /** Tokens added per second, continuously (fractions accrue), in tokens per second (> 0). */
  refillPerSecond: number;
  /**
   * Source of time for the refill; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Tokens in the bucket when it is created, in [0, capacity].
   * @default capacity
   */
  initialTokens?: number;
}

/**
 * A token bucket without timers: tokens are added lazily, from the clock time elapsed since the
 * last operation. Reusable for rate limits of any kind (a client-side rate limiter, a gateway's
 * per-consumer quota).
 */
export interface TokenBucket {
  /** Most tokens the bucket holds. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /**
   * Takes `n` tokens if the bucket holds them and returns 0; otherwise takes nothing and returns
   * the milliseconds (fractional) until `n` tokens will be there. Throws a RangeError when `n` is
   * not in (0, capacity], since such a request could never succeed.
   */
  tryTake(n?: number): number;
  /**
   * Takes `n` tokens even when the bucket holds fewer, going into debt that the refill repays
   * before anyone else gets a token, and returns the milliseconds until the debt is repaid (0
   * when the tokens were there). Reserving in arrival order gives waiters FIFO fairness.
   */
  reserve(n?: number): number;
  /** Gives back `n` reserved tokens that will not be used (a waiter gave up); never above capacity. */
  refund(n?: number): void;
  /** Tokens in the bucket now (fractional; 0 while it is in debt). */
  available(): number;
}

/**
 * Creates a {@link TokenBucket}.
 *
 * @example
 * const bucket = tokenBucket({ capacity: 10, refillPerSecond: 5 });
 * const waitMs = bucket.tryTake();
 * if (waitMs > 0) throw new Error(`slow down: retry in ${Math.ceil(waitMs)} ms`);
 */
export function tokenBucket(options: TokenBucketOptions): TokenBucket {
  const { capacity, refillPerSecond } = validateRates('tokenBucket', options);
  const { clock = systemClock, initialTokens = capacity } = options;
  if (typeof initialTokens !== 'number' || !(initialTokens >= 0 && initialTokens <= capacity))
    throw new RangeError(
      `tokenBucket.initialTokens must be a number in [0, ${capacity}], got ${String(initialTokens)}`,
    );
  return new Bucket(capacity, refillPerSecond, clock, initialTokens, clock.now());
}

/**
 * Tolerance for floating-point error, in tokens: 0.1 + 0.2 tokens of refill must satisfy a
 * request for 0.3.
 */
const EPSILON = 1e-9;

class Bucket implements TokenBucket {
  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly clock: Clock,
    /** Tokens held; negative while in debt. */
    private tokens: number,
    /** Clock time up to which refill has been added. */
    private refilledAt: number,
  ) {}

  tryTake(n = 1): number {
    this.check(n);
    this.refill(deadlineNow(this.clock));
    if (this.tokens + EPSILON >= n) {
      this.tokens -= n;
      return 0;
    }
    return ((n - this.tokens) * 1000) / this.refillPerSecond;
  }

  reserve(n = 1): number {
    this.check(n);
    this.refill(deadlineNow(this.clock));
    this.tokens -= n;
    return this.tokens + EPSILON >= 0 ? 0 : (-this.tokens * 1000) / this.refillPerSecond;
  }

  refund(n = 1): void {
    this.check(n);
    this.tokens = Math.min(this.capacity, this.tokens + n);
  }

  available(): number {
    this.refill(deadlineNow(this.clock));
    return Math.max(0, this.tokens);
  }

  /** Whether the bucket is full as of `now`: an idle bucket, the same as a brand-new one. */
  fullAt(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }

  private refill(now: number): void {
    const elapsedMs = now - this.refilledAt;
    if (!(elapsedMs > 0)) return;
    this.refilledAt = now;
    if (this.tokens >= this.capacity) return;
    // Multiply before dividing: 50 ms at 10 tokens/s is exactly 0.5 tokens.
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs * this.refillPerSecond) / 1000);
  }

  private check(n: number): void {
    if (!(n > 0 && n <= this.capacity))
      throw new RangeError(`tokenBucket: n must be a number in (0, ${this.capacity}], got ${String(n)}`);
  }
}

/** Options of {@link keyedTokenBuckets}. */
export interface KeyedTokenBucketsOptions {
  /** Capacity of each key's bucket, in tokens (> 0). */
  capacity: number;
  /** Refill of each key's bucket, in tokens per second (> 0). */
  refillPerSecond: number;
  /**
   * Source of time for the refill.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Most keys tracked at once; past it, buckets are evicted (see {@link keyedTokenBuckets}).
   * @default 10000
   */
  maxKeys?: number;
}

/** One token bucket per key (a consumer, an API key, a client address), bounded in memory. */
export interface KeyedTokenBuckets {
  /** Keys tracked now. */
  readonly size: number;
  /** {@link TokenBucket.tryTake} on the bucket of `key` (a new, full bucket for an unknown key). */
  tryTake(key: string, n?: number): number;
  /** Tokens available to `key` now (`capacity` for an unknown key). */
  available(key: string): number;
  /** Forgets `key`; its next request starts with a full bucket. */
  delete(key: string): boolean;
}

/** Least recently used buckets examined for a full one before evicting the least recently used. */
const EVICTION_SCAN = 32;

/**
 * Creates per-key token buckets with bounded memory. When a new key would exceed `maxKeys`, the
 * least recently used bucket that is full goes first — forgetting it loses nothing, since a new
 * key starts full — looking among the 32 least recently used; when none of those is full, the
 * least recently used bucket goes (that key gets a fresh bucket next time).
 *
 * @example
 * const perConsumer = keyedTokenBuckets({ capacity: 100, refillPerSecond: 10 });
 * const waitMs = perConsumer.tryTake('consumer-42');
 * if (waitMs > 0) console.log(`429, Retry-After: ${Math.ceil(waitMs / 1000)}`);
 */
export function keyedTokenBuckets(options: KeyedTokenBucketsOptions): KeyedTokenBuckets {
  return new KeyedBuckets(options);
}

class KeyedBuckets implements KeyedTokenBuckets {
  /** Buckets in least-recently-used order: a Map iterates in insertion order. */
  private readonly buckets: Map<string, Bucket>;
  private readonly capacity: number;
  private readonly refillPerSecond: number;
  private readonly clock: Clock;
  private readonly maxKeys: number;

  constructor(options: KeyedTokenBucketsOptions) {
    const { capacity, refillPerSecond } = validateRates('keyedTokenBuckets', options);
    const { clock = systemClock, maxKeys = 10_000 } = options;
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw new RangeError(`keyedTokenBuckets.maxKeys must be an integer >= 1, got ${String(maxKeys)}`);
    this.buckets = new Map();
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.clock = clock;
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.buckets.size;
  }

  tryTake(key: string, n = 1): number {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const now = deadlineNow(this.clock);
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      bucket = new Bucket(this.capacity, this.refillPerSecond, this.clock, this.capacity, now);
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    return bucket.tryTake(n);
  }

  available(key: string): number {
    return this.buckets.get(key)?.available() ?? this.capacity;
  }

  delete(key: string): boolean {
    return this.buckets.delete(key);
  }

  private evict(now: number): void {
    let oldest: string | undefined;
    let scanned = 0;
    for (const [key, bucket] of this.buckets) {
      if (bucket.fullAt(now)) {
        this.buckets.delete(key);
        return;
      }
      oldest ??= key;
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (oldest !== undefined) this.buckets.delete(oldest);
  }
}

function validateRates(
  owner: string,
  options: { capacity: number; refillPerSecond: number },
): { capacity: number; refillPerSecond: number } {
  const { capacity, refillPerSecond } = options;
  if (typeof capacity !== 'number' || !(capacity > 0) || !Number.isFinite(capacity))
    throw new RangeError(`${owner}.capacity must be a finite number > 0, got ${String(capacity)}`);
  if (typeof refillPerSecond !== 'number' || !(refillPerSecond > 0) || !Number.isFinite(refillPerSecond))
    throw new RangeError(
      `${owner}.refillPerSecond must be a finite number > 0, got ${String(refillPerSecond)}`,
    );
  return { capacity, refillPerSecond };
}
