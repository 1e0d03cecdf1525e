import {
  type BreakerStrategy,
  checkInteger,
  expectInteger,
  expectKind,
  expectRecord,
  type TripReason,
} from './breaker-strategy.js';

/** The exported state of a {@link consecutiveBreaker}. */
export type ConsecutiveBreakerState = {
  readonly kind: 'consecutive';
  /** Failures since the last success. */
  readonly failures: number;
};

/**
 * Opens the circuit after `threshold` consecutive failures; any success starts the count again
 * (cockatiel's `ConsecutiveBreaker`, Polly's classic breaker). The cheapest strategy: a success
 * resets one counter.
 *
 * @example
 * const breaker = circuitBreaker({ breaker: consecutiveBreaker(5), halfOpenAfterMs: 10_000 });
 */
export function consecutiveBreaker(threshold: number): BreakerStrategy {
  return new ConsecutiveBreaker(checkInteger(threshold, 'consecutiveBreaker.threshold', 1));
}

class ConsecutiveBreaker implements BreakerStrategy {
  readonly kind = 'consecutive' as const;
  readonly needsDurations = false;
  private failures: number;

  constructor(private readonly threshold: number) {
    this.failures = 0;
  }

  attach(): void {}

  success(): TripReason | undefined {
    this.failures = 0;
    return undefined;
  }

  failure(): TripReason | undefined {
    return ++this.failures >= this.threshold ? 'failures' : undefined;
  }

  halfOpen(): void {
    this.failures = 0;
  }

  reset(): void {
    this.failures = 0;
  }

  exportState(): ConsecutiveBreakerState {
    return { kind: this.kind, failures: this.failures };
  }

  restoreState(state: unknown, field = 'consecutiveBreaker.state'): void {
    const s = expectRecord(state, field);
    expectKind(s, field, this.kind);
    this.failures = expectInteger(s.failures, `${field}.failures`, 0);
  }
}
