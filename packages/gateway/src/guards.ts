import type { Clock } from '@flotilla/resilience';
import type { SplitConfig } from './config.js';

/** The rollback guards of a split, as configured (`split.guards`). */
export type GuardsConfig = NonNullable<SplitConfig['guards']>;

/** The name of a rollback guard. */
export type GuardName = 'breakerOpen' | 'errorRate' | 'p99' | 'mismatchRate';

/** The state of one guard, for the admin API and the console. */
export interface GuardStatus {
  /** Which guard. */
  readonly name: GuardName;
  /** Whether the guard's condition holds now (enough samples and the value past the threshold). */
  readonly tripped: boolean;
  /**
   * The current value: 5xx rate (0..1), p99 in ms, mismatch rate (0..1), or for `breakerOpen`
   * 1 while the candidate's breaker is open or isolated and 0 otherwise; `null` without samples.
   */
  readonly value: number | null;
  /** The guard trips when `value` exceeds this (`breakerOpen`: reaches 1). */
  readonly threshold: number;
  /** Samples behind `value` (requests or comparisons in the window); absent for `breakerOpen`. */
  readonly samples?: number;
  /** Samples needed before the guard may trip; absent for `breakerOpen`. */
  readonly minSamples?: number;
}

/** A guard whose condition holds, with a sentence saying why. */
export interface GuardTrip {
  readonly guard: GuardName;
  readonly detail: string;
}

/** The state of the candidate's circuit breaker, as reported by the proxy. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** The guards of one split (internal to the split controller). */
export interface RolloutGuards {
  /** Records a request served by the candidate; returns the errorRate or p99 trip it causes. */
  recordCandidate(status: number, durationMs: number): GuardTrip | undefined;
  /** Records a shadow comparison; returns the mismatchRate trip it causes. */
  recordComparison(match: boolean): GuardTrip | undefined;
  /** Records the candidate breaker's state; returns the breakerOpen trip it causes. */
  breaker(state: BreakerState): GuardTrip | undefined;
  /** The first guard whose condition holds now, in the order of {@link RolloutGuards.status}. */
  check(): GuardTrip | undefined;
  /** Forgets the live-traffic windows (errorRate, p99): an operator changed the weight. */
  restartLiveWindows(): void;
  /** Every active guard, in the order breakerOpen, errorRate, p99, mismatchRate. */
  status(): GuardStatus[];
}

/**
 * Buckets per time window. The window slides one bucket at a time, so it covers between 90 %
 * and 100 % of `windowMs` of history; finer buckets would cost memory on every route.
 */
const WINDOW_BUCKETS = 10;

/** A window of the last `windowMs` split into buckets that are recycled as time passes. */
class BucketRing<B> {
  private readonly buckets: B[];
  private readonly bucketMs: number;
  private index: number;

  constructor(
    private readonly clock: Clock,
    readonly windowMs: number,
    private readonly fresh: () => B,
  ) {
    this.bucketMs = windowMs / WINDOW_BUCKETS;
    this.buckets = Array.from({ length: WINDOW_BUCKETS }, fresh);
    this.index = Math.floor(clock.now() / this.bucketMs);
  }

  /** The bucket of the current time. */
  current(): B {
    this.slide();
    return this.buckets[this.index % WINDOW_BUCKETS] as B;
  }

  /** Every bucket of the window as of now. */
  all(): readonly B[] {
    this.slide();
    return this.buckets;
  }

  clear(): void {
    for (let i = 0; i < WINDOW_BUCKETS; i++) this.buckets[i] = this.fresh();
  }

  private slide(): void {
    const index = Math.floor(this.clock.now() / this.bucketMs);
    if (index <= this.index) return;
    const steps = Math.min(WINDOW_BUCKETS, index - this.index);
    for (let i = 1; i <= steps; i++) this.buckets[(this.index + i) % WINDOW_BUCKETS] = this.fresh();
    this.index = index;
  }
}

interface ErrorBucket {
  requests: number;
  errors: number;
}

/**
 * Latencies of one bucket in a log histogram whose bin edges are `maxMs · 1.01^k`, so `maxMs`
 * itself is an edge: whether the p99 exceeds `maxMs` is decided exactly from the count of
 * samples above it, and the p99 shown is within 1 % (the largest sample in its bin).
 */
interface LatencyBucket {
  requests: number;
  over: number;
  bins: Map<number, { count: number; max: number }>;
}

const LOG_RATIO = Math.log(1.01);
const MAX_BIN = 2_000;

function binOf(durationMs: number, maxMs: number): number {
  if (!(durationMs > 0)) return -MAX_BIN;
  const k = Math.ceil(Math.log(durationMs / maxMs) / LOG_RATIO);
  // Rounding must never move a sample across the maxMs edge: that edge decides the trip.
  const exact = durationMs > maxMs ? Math.max(1, k) : Math.min(0, k);
  return Math.max(-MAX_BIN, Math.min(MAX_BIN, exact));
}

/** Nearest-rank p99 of the merged bins. */
function p99Of(buckets: readonly LatencyBucket[], requests: number): number | null {
  if (requests === 0) return null;
  const merged = new Map<number, { count: number; max: number }>();
  for (const b of buckets)
    for (const [k, bin] of b.bins) {
      const m = merged.get(k);
      if (m === undefined) merged.set(k, { ...bin });
      else {
        m.count += bin.count;
        m.max = Math.max(m.max, bin.max);
      }
    }
  const rank = requests - Math.floor(requests / 100);
  let seen = 0;
  for (const k of [...merged.keys()].sort((a, b) => a - b)) {
    const bin = merged.get(k) as { count: number; max: number };
    seen += bin.count;
    if (seen >= rank) return bin.max;
  }
  return null;
}

/** Comparisons the mismatch rate is computed over: the most recent ones. */
function mismatchWindowSize(minComparisons: number): number {
  return Math.max(100, minComparisons);
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));
const seconds = (ms: number): string => `${round(ms / 1000, 3)} s`;

function check(condition: boolean, message: string): void {
  if (!condition) throw new RangeError(message);
}

function validate(config: GuardsConfig, field: string): void {
  const { errorRate, p99, mismatchRate } = config;
  const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (errorRate !== undefined) {
    check(
      errorRate.max >= 0 && errorRate.max <= 1,
      `${field}.errorRate.max must be in 0..1, got ${errorRate.max}`,
    );
    check(
      isInt(errorRate.windowMs, 1),
      `${field}.errorRate.windowMs must be an integer >= 1, got ${errorRate.windowMs}`,
    );
    check(
      isInt(errorRate.minRequests, 1),
      `${field}.errorRate.minRequests must be an integer >= 1, got ${errorRate.minRequests}`,
    );
  }
  if (p99 !== undefined) {
    check(
      p99.maxMs > 0 && Number.isFinite(p99.maxMs),
      `${field}.p99.maxMs must be a finite number > 0, got ${p99.maxMs}`,
    );
    check(isInt(p99.windowMs, 1), `${field}.p99.windowMs must be an integer >= 1, got ${p99.windowMs}`);
    check(
      isInt(p99.minRequests, 1),
      `${field}.p99.minRequests must be an integer >= 1, got ${p99.minRequests}`,
    );
  }
  if (mismatchRate !== undefined) {
    check(
      mismatchRate.max >= 0 && mismatchRate.max <= 1,
      `${field}.mismatchRate.max must be in 0..1, got ${mismatchRate.max}`,
    );
    check(
      isInt(mismatchRate.minComparisons, 1),
      `${field}.mismatchRate.minComparisons must be an integer >= 1, got ${mismatchRate.minComparisons}`,
    );
  }
}

/**
 * Creates the rollback guards of one split. Without `guards` in the config only `breakerOpen`
 * is active (its documented default), so every migrating route is protected out of the box.
 * `field` names the config in error messages (`route "orders" split.guards`).
 *
 * @example
 * const guards = createGuards({ breakerOpen: true, errorRate: { max: 0.05, windowMs: 60_000, minRequests: 20 } }, clock, 'split.guards');
 * const trip = guards.recordCandidate(503, 12); // a GuardTrip once the 5xx rate passes 5 % of 20+ requests
 */
export function createGuards(config: GuardsConfig | undefined, clock: Clock, field: string): RolloutGuards {
  const settings: GuardsConfig = config ?? { breakerOpen: true };
  validate(settings, field);
  const { breakerOpen, errorRate, p99, mismatchRate } = settings;

  let breakerState: BreakerState = 'closed';
  const errors =
    errorRate === undefined
      ? undefined
      : new BucketRing<ErrorBucket>(clock, errorRate.windowMs, () => ({ requests: 0, errors: 0 }));
  const latencies =
    p99 === undefined
      ? undefined
      : new BucketRing<LatencyBucket>(clock, p99.windowMs, () => ({ requests: 0, over: 0, bins: new Map() }));
  const comparisons =
    mismatchRate === undefined ? undefined : new Uint8Array(mismatchWindowSize(mismatchRate.minComparisons));
  let comparisonCount = 0;
  let comparisonNext = 0;
  let mismatchesInWindow = 0;

  const errorTotals = () => {
    let requests = 0;
    let failed = 0;
    for (const b of errors?.all() ?? []) {
      requests += b.requests;
      failed += b.errors;
    }
    return { requests, failed };
  };
  const latencyTotals = () => {
    let requests = 0;
    let over = 0;
    for (const b of latencies?.all() ?? []) {
      requests += b.requests;
      over += b.over;
    }
    return { requests, over };
  };

  const breakerTrip = (): GuardTrip | undefined =>
    breakerOpen && (breakerState === 'open' || breakerState === 'isolated')
      ? { guard: 'breakerOpen', detail: `the candidate's circuit breaker is ${breakerState}` }
      : undefined;

  const errorTrip = (): GuardTrip | undefined => {
    if (errorRate === undefined) return undefined;
    const { requests, failed } = errorTotals();
    if (requests < errorRate.minRequests || !(failed / requests > errorRate.max)) return undefined;
    return {
      guard: 'errorRate',
      detail: `candidate 5xx rate ${round(failed / requests, 4)} (${failed} of ${requests} requests in the last ${seconds(errorRate.windowMs)}) > max ${errorRate.max}`,
    };
  };

  const latencyTrip = (): GuardTrip | undefined => {
    if (p99 === undefined || latencies === undefined) return undefined;
    const { requests, over } = latencyTotals();
    // Nearest-rank p99 exceeds maxMs exactly when more than floor(n/100) samples do.
    if (requests < p99.minRequests || over <= Math.floor(requests / 100)) return undefined;
    const value = p99Of(latencies.all(), requests) ?? Number.NaN;
    return {
      guard: 'p99',
      detail: `candidate p99 latency ${round(value, 1)} ms (${requests} requests in the last ${seconds(p99.windowMs)}) > max ${p99.maxMs} ms`,
    };
  };

  const mismatchTrip = (): GuardTrip | undefined => {
    if (mismatchRate === undefined) return undefined;
    if (comparisonCount < mismatchRate.minComparisons) return undefined;
    const rate = mismatchesInWindow / comparisonCount;
    if (!(rate > mismatchRate.max)) return undefined;
    return {
      guard: 'mismatchRate',
      detail: `shadow mismatch rate ${round(rate, 4)} (${mismatchesInWindow} of the last ${comparisonCount} comparisons) > max ${mismatchRate.max}`,
    };
  };

  return {
    recordCandidate(status, durationMs) {
      if (errors !== undefined) {
        const b = errors.current();
        b.requests++;
        if (status >= 500) b.errors++;
      }
      if (p99 !== undefined && latencies !== undefined) {
        const b = latencies.current();
        b.requests++;
        if (durationMs > p99.maxMs) b.over++;
        const k = binOf(durationMs, p99.maxMs);
        const bin = b.bins.get(k);
        if (bin === undefined) b.bins.set(k, { count: 1, max: durationMs });
        else {
          bin.count++;
          if (durationMs > bin.max) bin.max = durationMs;
        }
      }
      return errorTrip() ?? latencyTrip();
    },
    recordComparison(match) {
      if (comparisons === undefined) return undefined;
      const mismatch = match ? 0 : 1;
      if (comparisonCount === comparisons.length) mismatchesInWindow -= comparisons[comparisonNext] as number;
      else comparisonCount++;
      comparisons[comparisonNext] = mismatch;
      mismatchesInWindow += mismatch;
      comparisonNext = (comparisonNext + 1) % comparisons.length;
      return mismatchTrip();
    },
    breaker(state) {
      breakerState = state;
      return breakerTrip();
    },
    check: () => breakerTrip() ?? errorTrip() ?? latencyTrip() ?? mismatchTrip(),
    restartLiveWindows() {
      errors?.clear();
      latencies?.clear();
    },
    status() {
      const out: GuardStatus[] = [];
      if (breakerOpen) {
        const open = breakerState === 'open' || breakerState === 'isolated';
        out.push({ name: 'breakerOpen', tripped: open, value: open ? 1 : 0, threshold: 1 });
      }
      if (errorRate !== undefined) {
        const { requests, failed } = errorTotals();
        out.push({
          name: 'errorRate',
          tripped: errorTrip() !== undefined,
          value: requests === 0 ? null : failed / requests,
          threshold: errorRate.max,
          samples: requests,
          minSamples: errorRate.minRequests,
        });
      }
      if (p99 !== undefined && latencies !== undefined) {
        const { requests } = latencyTotals();
        out.push({
          name: 'p99',
          tripped: latencyTrip() !== undefined,
          value: p99Of(latencies.all(), requests),
          threshold: p99.maxMs,
          samples: requests,
          minSamples: p99.minRequests,
        });
      }
      if (mismatchRate !== undefined) {
        out.push({
          name: 'mismatchRate',
          tripped: mismatchTrip() !== undefined,
          value: comparisonCount === 0 ? null : mismatchesInWindow / comparisonCount,
          threshold: mismatchRate.max,
          samples: comparisonCount,
          minSamples: mismatchRate.minComparisons,
        });
      }
      return out;
    },
  };
}
