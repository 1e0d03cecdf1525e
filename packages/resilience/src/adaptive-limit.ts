/** One measured execution, fed to an {@link AdaptiveLimit} by the bulkhead that ran it. */
export interface LimitSample {
  /** How long the execution ran, in milliseconds (time spent queued is not included). */
  readonly rttMs: number;
  /** Executions in flight when this one was admitted, itself included. */
  readonly inflight: number;
  /** Whether the execution failed in a way that signals overload (an error or a timeout). */
  readonly dropped: boolean;
}

/**
 * A concurrency limit that adapts to the latency and failures it observes, as in Netflix's
 * concurrency-limits. Give one to `bulkhead({ limit })`: the bulkhead times every execution,
 * feeds the sample here, and admits calls against the current {@link AdaptiveLimit.limit}.
 * Use one limit per bulkhead: the bulkhead only re-checks its queue after its own samples.
 */
export interface AdaptiveLimit {
  /** The algorithm, for snapshots: `"aimd"`, `"gradient"`, or a custom one's name. */
  readonly kind?: string;
  /** The current limit: an integer >= 1. */
  readonly limit: number;
  /** Updates the limit from one finished execution. */
  onSample(sample: LimitSample): void;
}

/** Bounds shared by the adaptive limits. */
export interface AdaptiveLimitBounds {
  /**
   * The limit before any sample.
   * @default 20
   */
  initialLimit?: number;
  /**
   * The limit never goes below this.
   * @default 1
   */
  minLimit?: number;
  /**
   * The limit never goes above this.
   * @default 200
   */
  maxLimit?: number;
}

/** Options of {@link aimdLimit}. */
export interface AimdLimitOptions extends AdaptiveLimitBounds {
  /**
   * Factor applied to the limit on a drop, in [0.5, 1).
   * @default 0.9
   */
  backoffRatio?: number;
  /**
   * A sample slower than this counts as a drop, in milliseconds.
   * @default 5000
   */
  timeoutMs?: number;
}

/**
 * Additive increase, multiplicative decrease (Netflix's `AIMDLimit`): the limit grows by 1 after
 * each successful sample taken while at least half of the limit was in use, and is multiplied by
 * `backoffRatio` (rounded down) after a drop or a sample slower than `timeoutMs`.
 *
 * @example
 * const db = bulkhead({ limit: aimdLimit({ initialLimit: 10, maxLimit: 100, timeoutMs: 2_000 }), queue: 20 });
 */
export function aimdLimit(options: AimdLimitOptions = {}): AdaptiveLimit {
  return new AimdLimit(options);
}

class AimdLimit implements AdaptiveLimit {
  readonly kind = 'aimd';
  limit: number;
  private readonly minLimit: number;
  private readonly maxLimit: number;
  private readonly backoffRatio: number;
  private readonly timeoutMs: number;

  constructor(options: AimdLimitOptions) {
    const { initialLimit, minLimit, maxLimit } = validateBounds('aimdLimit', options);
    const { backoffRatio = 0.9, timeoutMs = 5_000 } = options;
    if (typeof backoffRatio !== 'number' || !(backoffRatio >= 0.5 && backoffRatio < 1))
      throw new RangeError(
        `aimdLimit.backoffRatio must be a number in [0.5, 1), got ${String(backoffRatio)}`,
      );
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
      throw new RangeError(`aimdLimit.timeoutMs must be a number > 0, got ${String(timeoutMs)}`);
    this.limit = initialLimit;
    this.minLimit = minLimit;
    this.maxLimit = maxLimit;
    this.backoffRatio = backoffRatio;
    this.timeoutMs = timeoutMs;
  }

  onSample(sample: LimitSample): void {
    let next = this.limit;
    if (sample.dropped || sample.rttMs > this.timeoutMs) next = Math.floor(next * this.backoffRatio);
    else if (sample.inflight * 2 >= next) next += 1;
    this.limit = Math.min(this.maxLimit, Math.max(this.minLimit, next));
  }
}

/** Options of {@link gradientLimit}. */
export interface GradientLimitOptions extends AdaptiveLimitBounds {
  /**
   * Weight of a new estimate against the current limit, in (0, 1].
   * @default 0.2
   */
  smoothing?: number;
  /**
   * How much slower than the long-term RTT a sample may be before the limit shrinks (>= 1).
   * @default 1.5
   */
  rttTolerance?: number;
  /**
   * Number of samples the long-term RTT averages over (exponentially), after a warm-up of 10.
   * @default 600
   */
  longWindow?: number;
  /**
   * Headroom added to the limit on each sample, as a function of the current limit, in calls.
   * @default () => 4
   */
  queueSize?: (limit: number) => number;
}

/** Samples averaged arithmetically before the long-term RTT switches to an exponential average. */
const WARMUP_SAMPLES = 10;

/**
 * Netflix's `Gradient2Limit`: compares each sample's RTT with an exponentially averaged
 * long-term RTT. While latency holds steady the gradient is 1 and the limit grows by `queueSize`
 * per sample (smoothed); when latency rises beyond `rttTolerance` × the long-term RTT the
 * gradient falls (to 0.5 at most) and the limit shrinks:
 *
 *     gradient = max(0.5, min(1, rttTolerance × longRtt / rtt))
 *     limit    = limit × (1 − smoothing) + (limit × gradient + queueSize) × smoothing
 *
 * Samples taken while fewer than half the limit's calls were in flight leave it unchanged (the
 * load, not the server, is what limits them). Unlike Gradient2, which ignores drops, a drop here
 * counts as the steepest gradient (0.5) and does not enter the RTT average, so failing calls
 * shrink the limit even when they fail fast.
 *
 * @example
 * const search = bulkhead({ limit: gradientLimit({ initialLimit: 20, maxLimit: 500 }), queue: 100 });
 */
export function gradientLimit(options: GradientLimitOptions = {}): AdaptiveLimit {
  return new GradientLimit(options);
}

class GradientLimit implements AdaptiveLimit {
  readonly kind = 'gradient';
  private estimate: number;
  private readonly minLimit: number;
  private readonly maxLimit: number;
  private readonly smoothing: number;
  private readonly rttTolerance: number;
  private readonly longFactor: number;
  private readonly queueSize: (limit: number) => number;
  private longRtt: number;
  private longCount: number;

  constructor(options: GradientLimitOptions) {
    const { initialLimit, minLimit, maxLimit } = validateBounds('gradientLimit', options);
    const { smoothing = 0.2, rttTolerance = 1.5, longWindow = 600, queueSize = () => 4 } = options;
    if (typeof smoothing !== 'number' || !(smoothing > 0 && smoothing <= 1))
      throw new RangeError(`gradientLimit.smoothing must be a number in (0, 1], got ${String(smoothing)}`);
    if (typeof rttTolerance !== 'number' || !(rttTolerance >= 1) || !Number.isFinite(rttTolerance))
      throw new RangeError(
        `gradientLimit.rttTolerance must be a finite number >= 1, got ${String(rttTolerance)}`,
      );
    if (!Number.isInteger(longWindow) || longWindow < 1)
      throw new RangeError(`gradientLimit.longWindow must be an integer >= 1, got ${String(longWindow)}`);
    if (typeof queueSize !== 'function')
      throw new TypeError(`gradientLimit.queueSize must be a function, got ${typeof queueSize}`);
    this.estimate = initialLimit;
    this.minLimit = minLimit;
    this.maxLimit = maxLimit;
    this.smoothing = smoothing;
    this.rttTolerance = rttTolerance;
    this.longFactor = 2 / (longWindow + 1);
    this.queueSize = queueSize;
    this.longRtt = 0;
    this.longCount = 0;
  }

  get limit(): number {
    return Math.floor(this.estimate);
  }

  onSample(sample: LimitSample): void {
    const estimate = this.estimate;
    let gradient = 0.5;
    if (!sample.dropped) {
      const rtt = Math.max(sample.rttMs, Number.MIN_VALUE);
      const longRtt = this.addLongRtt(rtt);
      // After a long overload the average lags far above normal latency: let it catch up faster.
      if (longRtt / rtt > 2) this.longRtt = longRtt * 0.95;
      if (sample.inflight < estimate / 2) return;
      gradient = Math.max(0.5, Math.min(1, (this.rttTolerance * longRtt) / rtt));
    }
    const target = estimate * gradient + this.queueSize(Math.floor(estimate));
    const smoothed = estimate * (1 - this.smoothing) + target * this.smoothing;
    if (Number.isFinite(smoothed)) this.estimate = Math.max(this.minLimit, Math.min(this.maxLimit, smoothed));
  }

  private addLongRtt(rtt: number): number {
    if (this.longCount < WARMUP_SAMPLES) {
      this.longCount++;
      this.longRtt += (rtt - this.longRtt) / this.longCount;
    } else {
      this.longRtt = this.longRtt * (1 - this.longFactor) + rtt * this.longFactor;
    }
    return this.longRtt;
  }
}

function validateBounds(
  owner: string,
  options: AdaptiveLimitBounds,
): { initialLimit: number; minLimit: number; maxLimit: number } {
  const { initialLimit = 20, minLimit = 1, maxLimit = 200 } = options;
  if (!Number.isInteger(minLimit) || minLimit < 1)
    throw new RangeError(`${owner}.minLimit must be an integer >= 1, got ${String(minLimit)}`);
  if (!Number.isInteger(maxLimit) || maxLimit < minLimit)
    throw new RangeError(
      `${owner}.maxLimit must be an integer >= minLimit (${minLimit}), got ${String(maxLimit)}`,
    );
  if (!Number.isInteger(initialLimit) || initialLimit < minLimit || initialLimit > maxLimit)
    throw new RangeError(
      `${owner}.initialLimit must be an integer in [${minLimit}, ${maxLimit}], got ${String(initialLimit)}`,
    );
  return { initialLimit, minLimit, maxLimit };
}
