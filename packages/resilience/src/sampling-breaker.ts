import {
  type BreakerStrategy,
  checkInteger,
  checkRate,
  checkSlowCalls,
  expectInteger,
  expectKind,
  expectRecord,
  show,
  type TripReason,
} from './breaker-strategy.js';
import { type Clock, deadlineNow, systemClock } from './clock.js';

/** Options of {@link samplingBreaker}. */
export interface SamplingBreakerOptions {
  /** Failure rate, in (0, 1], at or above which the circuit opens: 0.5 opens at 50% failures. */
  threshold: number;
  /** Length of the sliding time window, in milliseconds. */
  durationMs: number;
  /**
   * Number of buckets the window is divided into; it slides one bucket at a time, so an outcome
   * leaves the window between `durationMs - durationMs / buckets` and `durationMs` after it.
   * @default 10
   */
  buckets?: number;
  /**
   * Calls the window must hold before any rate is judged, so a quiet period with a few failures
   * does not open the circuit.
   * @default 100
   */
  minimumCalls?: number;
  /**
   * A call that takes longer than this, in milliseconds, is slow, whether it succeeded or failed.
   * Setting it makes the breaker time every call.
   * @default undefined (slow calls are not tracked)
   */
  slowCallDurationMs?: number;
  /**
   * Slow-call rate, in (0, 1], at or above which the circuit opens. Needs `slowCallDurationMs`.
   * @default 1
   */
  slowCallRateThreshold?: number;
}

/** One non-empty bucket of an exported {@link samplingBreaker} window. */
export type SamplingBucketState = {
  /** How long ago the bucket started, in milliseconds (an age, so it survives a process change). */
  readonly ageMs: number;
  /** Calls recorded in the bucket. */
  readonly calls: number;
  /** Of those, the failures. */
  readonly failures: number;
  /** Of those, the slow calls (successful or not). */
  readonly slowCalls: number;
};

/** The exported state of a {@link samplingBreaker}. */
export type SamplingBreakerState = {
  readonly kind: 'sampling';
  /** Non-empty buckets, oldest first. */
  readonly buckets: readonly SamplingBucketState[];
};

/**
 * Opens the circuit when, over the last `durationMs`, the failure rate reaches `threshold`
 * (resilience4j's TIME_BASED window, cockatiel's `SamplingBreaker`), or the slow-call rate
 * reaches `slowCallRateThreshold`. Nothing is judged until the window holds `minimumCalls` calls.
 *
 * @example
 * const breaker = circuitBreaker({
 *   breaker: samplingBreaker({ threshold: 0.2, durationMs: 30_000, minimumCalls: 50 }),
 * });
 */
export function samplingBreaker(options: SamplingBreakerOptions): BreakerStrategy {
  return new SamplingBreaker(options);
}

class SamplingBreaker implements BreakerStrategy {
  readonly kind = 'sampling' as const;
  readonly needsDurations: boolean;
  private readonly threshold: number;
  private readonly minimumCalls: number;
  private readonly slowCallDurationMs: number;
  private readonly slowCallRateThreshold: number;
  private readonly bucketMs: number;
  private readonly calls: Float64Array;
  private readonly failures: Float64Array;
  private readonly slow: Float64Array;
  private clock: Clock;
  /** The absolute number (time / bucketMs) of the newest bucket. */
  private currentIndex: number;
  private totalCalls: number;
  private totalFailures: number;
  private totalSlow: number;

  constructor(options: SamplingBreakerOptions) {
    this.threshold = checkRate(options.threshold, 'samplingBreaker.threshold');
    const { durationMs } = options;
    if (typeof durationMs !== 'number' || !(durationMs > 0) || !Number.isFinite(durationMs))
      throw new RangeError(`samplingBreaker.durationMs must be a finite number > 0, got ${show(durationMs)}`);
    const buckets = checkInteger(options.buckets ?? 10, 'samplingBreaker.buckets', 1);
    this.minimumCalls = checkInteger(options.minimumCalls ?? 100, 'samplingBreaker.minimumCalls', 1);
    const slow = checkSlowCalls('samplingBreaker', options);
    this.slowCallDurationMs = slow.slowCallDurationMs;
    this.slowCallRateThreshold = slow.slowCallRateThreshold;
    this.needsDurations = options.slowCallDurationMs !== undefined;
    this.bucketMs = durationMs / buckets;
    this.calls = new Float64Array(buckets);
    this.failures = new Float64Array(buckets);
    this.slow = new Float64Array(buckets);
    this.clock = systemClock;
    this.currentIndex = Number.NEGATIVE_INFINITY;
    this.totalCalls = 0;
    this.totalFailures = 0;
    this.totalSlow = 0;
  }

  attach(clock: Clock): void {
    this.clock = clock;
  }

  success(durationMs?: number): TripReason | undefined {
    return this.record(false, durationMs !== undefined && durationMs > this.slowCallDurationMs);
  }

  failure(durationMs?: number): TripReason | undefined {
    return this.record(true, durationMs !== undefined && durationMs > this.slowCallDurationMs);
  }

  halfOpen(): void {
    this.reset();
  }

  reset(): void {
    this.calls.fill(0);
    this.failures.fill(0);
    this.slow.fill(0);
    this.totalCalls = this.totalFailures = this.totalSlow = 0;
  }

  exportState(): SamplingBreakerState {
    const now = this.clock.now();
    this.slide(now);
    const buckets: SamplingBucketState[] = [];
    for (let age = this.calls.length - 1; age >= 0; age--) {
      const index = this.currentIndex - age;
      const slot = this.slot(index);
      const calls = this.calls[slot] as number;
      if (calls > 0)
        buckets.push({
          ageMs: now - index * this.bucketMs,
          calls,
          failures: this.failures[slot] as number,
          slowCalls: this.slow[slot] as number,
        });
    }
    return { kind: this.kind, buckets };
  }

  /** Places each bucket by its age; buckets older than the window are dropped. */
  restoreState(state: unknown, field = 'samplingBreaker.state'): void {
    const s = expectRecord(state, field);
    expectKind(s, field, this.kind);
    const buckets = s.buckets;
    if (!Array.isArray(buckets))
      throw new TypeError(`${field}.buckets must be an array, got ${show(buckets)}`);
    const valid = buckets.map((b: unknown, i): SamplingBucketState => {
      const at = `${field}.buckets[${i}]`;
      const r = expectRecord(b, at);
      const { ageMs } = r;
      if (typeof ageMs !== 'number' || !(ageMs >= 0) || !Number.isFinite(ageMs))
        throw new TypeError(`${at}.ageMs must be a finite number >= 0, got ${show(ageMs)}`);
      const calls = expectInteger(r.calls, `${at}.calls`, 0);
      return {
        ageMs,
        calls,
        failures: expectInteger(r.failures, `${at}.failures`, 0, calls),
        slowCalls: expectInteger(r.slowCalls, `${at}.slowCalls`, 0, calls),
      };
    });
    this.reset();
    this.slide(this.clock.now());
    for (const b of valid) {
      // A tiny epsilon keeps a bucket exported at a boundary from rounding into the next one.
      const bucketsAgo = Math.floor(b.ageMs / this.bucketMs + 1e-9);
      if (bucketsAgo >= this.calls.length) continue;
      const slot = this.slot(this.currentIndex - bucketsAgo);
      this.calls[slot] = (this.calls[slot] as number) + b.calls;
      this.failures[slot] = (this.failures[slot] as number) + b.failures;
      this.slow[slot] = (this.slow[slot] as number) + b.slowCalls;
      this.totalCalls += b.calls;
      this.totalFailures += b.failures;
      this.totalSlow += b.slowCalls;
    }
  }

  private record(failed: boolean, slow: boolean): TripReason | undefined {
    this.slide(deadlineNow(this.clock));
    const slot = this.slot(this.currentIndex);
    this.calls[slot] = (this.calls[slot] as number) + 1;
    this.totalCalls++;
    if (failed) {
      this.failures[slot] = (this.failures[slot] as number) + 1;
      this.totalFailures++;
    }
    if (slow) {
      this.slow[slot] = (this.slow[slot] as number) + 1;
      this.totalSlow++;
    }
    if (this.totalCalls < this.minimumCalls) return undefined;
    if (this.totalFailures / this.totalCalls >= this.threshold) return 'failures';
    if (this.needsDurations && this.totalSlow / this.totalCalls >= this.slowCallRateThreshold)
      return 'slow-calls';
    return undefined;
  }

  private slot(index: number): number {
    const n = this.calls.length;
    return ((index % n) + n) % n;
  }

  /** Moves the window so that `now` falls in the newest bucket, emptying the buckets that expired. */
  private slide(now: number): void {
    const index = Math.floor(now / this.bucketMs);
    if (index <= this.currentIndex) return;
    const n = this.calls.length;
    if (index - this.currentIndex >= n) {
      this.reset();
    } else {
      for (let i = this.currentIndex + 1; i <= index; i++) {
        const slot = this.slot(i);
        this.totalCalls -= this.calls[slot] as number;
        this.totalFailures -= this.failures[slot] as number;
        this.totalSlow -= this.slow[slot] as number;
        this.calls[slot] = this.failures[slot] = this.slow[slot] = 0;
      }
    }
    this.currentIndex = index;
  }
}
