import type { Clock } from './clock.js';
import { LatencyHistogram } from './latency-histogram.js';

/** Options of the rolling metrics every policy keeps. */
export interface MetricsOptions {
  /**
   * Length of the rolling window, in milliseconds.
   * @default 10000
   */
  windowMs?: number;
  /**
   * Number of buckets the window is divided into; it slides one bucket at a time.
   * @default 10
   */
  buckets?: number;
  /**
   * Beyond the first 32 calls of each bucket (which are always timed, so low traffic gets exact
   * percentiles), record the latency of one call in every `latencySampleEvery` (a power of two).
   * Reading the clock costs about as much as a whole fast call, so busy policies sample unless a
   * strategy or listener needs every duration. Set 1 to time every call.
   * @default 64
   */
  latencySampleEvery?: number;
}

/** Cumulative counters since the policy was created. */
export interface MetricsTotals {
  /** Executions that reached this policy. */
  readonly calls: number;
  /** Executions that returned a value. */
  readonly successes: number;
  /** Executions that ended in an error raised by the work (or counted as failure by a predicate). */
  readonly failures: number;
  /** Executions this policy refused without running the work (open circuit, full bulkhead, …). */
  readonly rejections: number;
}

/** Latency percentiles in milliseconds over the sampled calls of the window. */
export interface LatencySnapshot {
  /** Calls whose latency was sampled. */
  readonly samples: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Counters over the rolling window. */
export interface WindowSnapshot extends MetricsTotals {
  /** Window length in milliseconds. */
  readonly durationMs: number;
  /** failures / (successes + failures), 0 when nothing completed. */
  readonly failureRate: number;
  readonly latency: LatencySnapshot;
}

/** What a dashboard polls from any policy. */
export interface PolicySnapshot {
  /** The kind of policy: `"circuit-breaker"`, `"retry"`, … */
  readonly kind: string;
  /** The policy's name (its kind unless named in its options). */
  readonly name: string;
  /** Current state where the policy has one (a breaker's `"closed"`, a bulkhead's `"saturated"`). */
  readonly state?: string;
  readonly totals: MetricsTotals;
  readonly window: WindowSnapshot;
  /** Policy-specific gauges and counters (active and queued calls, retries, budget, …). */
  readonly details?: Readonly<Record<string, number | string | boolean | null>>;
  /** The inner policies of a pipeline, outermost first. */
  readonly policies?: readonly PolicySnapshot[];
}

interface Bucket {
  /** Latencies recorded in this bucket (the histogram's count, kept here for a cheap check). */
  samples: number;
  calls: number;
  successes: number;
  failures: number;
  rejections: number;
  latency: LatencyHistogram | undefined;
}

/** Calls per bucket that are always timed, so percentiles stay meaningful at low traffic. */
const ALWAYS_TIMED = 32;

const emptyBucket = (): Bucket => ({
  samples: 0,
  calls: 0,
  successes: 0,
  failures: 0,
  rejections: 0,
  latency: undefined,
});

/**
 * The rolling metrics of one policy (internal). Counters go into the current bucket without
 * reading the clock; the window slides whenever the clock is read anyway — a sampled latency,
 * a failure, a rejection or a snapshot — so the hot path costs a few increments.
 */
export class PolicyMetrics {
  calls = 0;
  successes = 0;
  failures = 0;
  rejections = 0;
  private readonly buckets: Bucket[];
  private readonly bucketMs: number;
  private readonly sampleMask: number;
  private current: Bucket;
  private currentIndex: number;
  private sampleCounter = 0;

  constructor(
    private readonly clock: Clock,
    options: MetricsOptions = {},
  ) {
    const windowMs = options.windowMs ?? 10_000;
    const count = options.buckets ?? 10;
    const every = options.latencySampleEvery ?? 64;
    if (!(windowMs > 0)) throw new RangeError(`metrics.windowMs must be > 0, got ${windowMs}`);
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`metrics.buckets must be an integer >= 1, got ${count}`);
    if (!Number.isInteger(every) || every < 1 || (every & (every - 1)) !== 0)
      throw new RangeError(`metrics.latencySampleEvery must be a power of two >= 1, got ${every}`);
    this.bucketMs = windowMs / count;
    this.sampleMask = every - 1;
    this.buckets = Array.from({ length: count }, emptyBucket);
    this.currentIndex = Math.floor(clock.now() / this.bucketMs);
    this.current = this.buckets[this.currentIndex % count] as Bucket;
  }

  /** Whether this call's latency should be timed: the first 32 of a bucket, then one in `latencySampleEvery`. */
  sample(): boolean {
    return this.current.samples < ALWAYS_TIMED || (++this.sampleCounter & this.sampleMask) === 0;
  }

  /** Counts a call that reached the policy. */
  call(): void {
    this.calls++;
    this.current.calls++;
  }

  /** Counts a success. */
  success(): void {
    this.successes++;
    this.current.successes++;
  }

  /** Counts a success whose latency was measured. */
  successTimed(durationMs: number, now: number): void {
    this.successes++;
    this.slide(now);
    this.current.successes++;
    this.histogram().record(durationMs);
  }

  /** Counts a failure; `durationMs` when it was timed. */
  failure(now: number, durationMs?: number): void {
    this.failures++;
    this.slide(now);
    this.current.failures++;
    if (durationMs !== undefined) this.histogram().record(durationMs);
  }

  /** Counts a call refused by the policy. */
  rejection(now: number): void {
    this.rejections++;
    this.slide(now);
    this.current.rejections++;
  }

  /** A snapshot of totals and of the window as of the clock's current time. */
  snapshot(kind: string, name: string, state?: string, details?: PolicySnapshot['details']): PolicySnapshot {
    this.slide(this.clock.now());
    const merged = new LatencyHistogram();
    let calls = 0;
    let successes = 0;
    let failures = 0;
    let rejections = 0;
    for (const b of this.buckets) {
      calls += b.calls;
      successes += b.successes;
      failures += b.failures;
      rejections += b.rejections;
      if (b.latency !== undefined) merged.merge(b.latency);
    }
    const completed = successes + failures;
    return {
      kind,
      name,
      ...(state === undefined ? {} : { state }),
      totals: {
        calls: this.calls,
        successes: this.successes,
        failures: this.failures,
        rejections: this.rejections,
      },
      window: {
        durationMs: this.bucketMs * this.buckets.length,
        calls,
        successes,
        failures,
        rejections,
        failureRate: completed === 0 ? 0 : failures / completed,
        latency: {
          samples: merged.count,
          meanMs: merged.meanMs,
          p50Ms: merged.quantile(0.5),
          p90Ms: merged.quantile(0.9),
          p99Ms: merged.quantile(0.99),
          maxMs: merged.max,
        },
      },
      ...(details === undefined ? {} : { details }),
    };
  }

  private histogram(): LatencyHistogram {
    this.current.samples++;
    if (this.current.latency === undefined) this.current.latency = new LatencyHistogram();
    return this.current.latency;
  }

  /** Moves the window so that `now` falls in the current bucket, clearing expired buckets. */
  private slide(now: number): void {
    const index = Math.floor(now / this.bucketMs);
    if (index <= this.currentIndex) return;
    const n = this.buckets.length;
    const steps = Math.min(n, index - this.currentIndex);
    for (let i = 1; i <= steps; i++) {
      const b = this.buckets[(this.currentIndex + i) % n] as Bucket;
      b.samples = 0;
      b.calls = 0;
      b.successes = 0;
      b.failures = 0;
      b.rejections = 0;
      b.latency?.clear();
    }
    this.currentIndex = index;
    this.current = this.buckets[index % n] as Bucket;
  }
}
