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

/** Options of {@link countBreaker}. */
export interface CountBreakerOptions {
  /** Failure rate, in (0, 1], at or above which the circuit opens: 0.5 opens at 50% failures. */
  threshold: number;
  /** Number of most recent calls in the sliding window. */
  size: number;
  /**
   * Calls the window must hold before any rate is judged, so a few early failures do not open
   * the circuit. An integer in [1, size].
   * @default size
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

/** The exported state of a {@link countBreaker}. */
export type CountBreakerState = {
  readonly kind: 'count';
  /**
   * The window's outcomes, oldest first: bit 0 set for a failure, bit 1 set for a slow call
   * (0 = fast success, 1 = failure, 2 = slow success, 3 = slow failure).
   */
  readonly outcomes: readonly number[];
};

const FAILED = 1;
const SLOW = 2;

/**
 * Opens the circuit when, among the last `size` calls, the failure rate reaches `threshold`
 * (resilience4j's COUNT_BASED window, cockatiel's `CountBreaker`), or the slow-call rate reaches
 * `slowCallRateThreshold`. Nothing is judged until the window holds `minimumCalls` calls.
 *
 * @example
 * const breaker = circuitBreaker({
 *   breaker: countBreaker({ threshold: 0.5, size: 100, minimumCalls: 20 }),
 * });
 */
export function countBreaker(options: CountBreakerOptions): BreakerStrategy {
  return new CountBreaker(options);
}

class CountBreaker implements BreakerStrategy {
  readonly kind = 'count' as const;
  readonly needsDurations: boolean;
  private readonly threshold: number;
  private readonly size: number;
  private readonly minimumCalls: number;
  private readonly slowCallDurationMs: number;
  private readonly slowCallRateThreshold: number;
  /** A ring buffer of outcome codes; `next` is where the next one goes. */
  private readonly outcomes: Uint8Array;
  private next: number;
  private filled: number;
  private failures: number;
  private slow: number;

  constructor(options: CountBreakerOptions) {
    this.threshold = checkRate(options.threshold, 'countBreaker.threshold');
    this.size = checkInteger(options.size, 'countBreaker.size', 1);
    this.minimumCalls = checkInteger(
      options.minimumCalls ?? this.size,
      'countBreaker.minimumCalls',
      1,
      this.size,
    );
    const slow = checkSlowCalls('countBreaker', options);
    this.slowCallDurationMs = slow.slowCallDurationMs;
    this.slowCallRateThreshold = slow.slowCallRateThreshold;
    this.needsDurations = options.slowCallDurationMs !== undefined;
    this.outcomes = new Uint8Array(this.size);
    this.next = 0;
    this.filled = 0;
    this.failures = 0;
    this.slow = 0;
  }

  attach(): void {}

  success(durationMs?: number): TripReason | undefined {
    return this.record(durationMs !== undefined && durationMs > this.slowCallDurationMs ? SLOW : 0);
  }

  failure(durationMs?: number): TripReason | undefined {
    return this.record(
      durationMs !== undefined && durationMs > this.slowCallDurationMs ? FAILED | SLOW : FAILED,
    );
  }

  halfOpen(): void {
    this.reset();
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
    this.failures = 0;
    this.slow = 0;
  }

  exportState(): CountBreakerState {
    const outcomes: number[] = [];
    for (let i = this.filled; i > 0; i--)
      outcomes.push(this.outcomes[(this.next - i + this.size) % this.size] as number);
    return { kind: this.kind, outcomes };
  }

  /** Keeps the newest `size` outcomes when the exported window was larger. */
  restoreState(state: unknown, field = 'countBreaker.state'): void {
    const s = expectRecord(state, field);
    expectKind(s, field, this.kind);
    const outcomes = s.outcomes;
    if (!Array.isArray(outcomes))
      throw new TypeError(`${field}.outcomes must be an array, got ${show(outcomes)}`);
    const codes = outcomes.map((o: unknown, i) =>
      expectInteger(o, `${field}.outcomes[${i}]`, 0, FAILED | SLOW),
    );
    this.reset();
    for (const code of codes.slice(-this.size)) this.push(code);
  }

  private push(code: number): void {
    if (this.filled === this.size) {
      const old = this.outcomes[this.next] as number;
      this.failures -= old & FAILED;
      this.slow -= old >> 1;
    } else {
      this.filled++;
    }
    this.outcomes[this.next] = code;
    this.failures += code & FAILED;
    this.slow += code >> 1;
    if (++this.next === this.size) this.next = 0;
  }

  private record(code: number): TripReason | undefined {
    this.push(code);
    if (this.filled < this.minimumCalls) return undefined;
    if (this.failures / this.filled >= this.threshold) return 'failures';
    if (this.needsDurations && this.slow / this.filled >= this.slowCallRateThreshold) return 'slow-calls';
    return undefined;
  }
}
