import {
  type AnyPolicy,
  type Backoff,
  type BreakerStrategy,
  type BulkheadPolicy,
  bulkhead,
  type CircuitBreakerPolicy,
  type Clock,
  circuitBreaker,
  consecutiveBreaker,
  exponentialBackoff,
  isTimeoutError,
  type RandomSource,
  type RetryBudget,
  type RetryBudgetOptions,
  retry,
  retryBudget,
} from '@flotilla/resilience';
import type { LoadBalancing, OutlierDetectionOptions } from './load-balancer.js';
import { isUpstreamError, isUpstreamUnavailableError } from './upstream-error.js';

/**
 * The resilience settings of the upstreams a service calls: what they are, their defaults, how
 * overrides merge, and how they become policies (shared by the client's modules).
 */

/** Retry settings of an upstream. */
export interface RetrySettings {
  /**
   * Attempts in total, the first one included.
   * @default 3
   */
  maxAttempts: number;
  /**
   * Delay before each retry.
   * @default exponentialBackoff({ initialDelayMs: 100 }) (full jitter, at most 30 s)
   */
  backoff: Backoff;
  /**
   * The upstream's retry budget (retries per call over a rolling window), or `false` for none.
   * @default { ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10000 }
   */
  budget: Omit<RetryBudgetOptions, 'clock'> | false;
  /**
   * A `Retry-After` longer than this, in milliseconds, ends the retries at once.
   * @default 30000
   */
  maxRetryAfterMs: number;
}

/** Circuit breaker settings of an upstream. */
export interface BreakerSettings {
  /**
   * Creates the strategy that decides when the circuit opens (one per upstream: strategies are stateful).
   * @default () => consecutiveBreaker(5)
   */
  strategy: () => BreakerStrategy;
  /**
   * How long the circuit stays open before a probe, in milliseconds.
   * @default 10000
   */
  halfOpenAfterMs: number;
  /**
   * The longest break, in milliseconds, as failed probes lengthen it.
   * @default halfOpenAfterMs (breaks never grow)
   */
  halfOpenAfterMaxMs?: number;
}

/** Bulkhead settings of an upstream. */
export interface BulkheadSettings {
  /**
   * Most calls in flight to the upstream at once.
   * @default 100
   */
  limit: number;
  /**
   * Most calls waiting for a slot.
   * @default 0
   */
  queue: number;
  /** Longest wait in the queue, in milliseconds. @default no limit */
  queueTimeoutMs?: number;
}

/** The complete policies of one upstream. */
export interface UpstreamPolicies {
  /**
   * Time allowed for each attempt, in milliseconds (the response body included).
   * @default 5000
   */
  timeoutMs: number;
  /** Retries, or `false` for none. */
  retry: RetrySettings | false;
  /** Circuit breaker, or `false` for none. */
  breaker: BreakerSettings | false;
  /** Bulkhead, or `false` for none. */
  bulkhead: BulkheadSettings | false;
  /**
   * How calls spread over the upstream's instances.
   * @default 'least-outstanding'
   */
  loadBalancing: LoadBalancing;
  /**
   * Connections per instance.
   * @default 64
   */
  connections: number;
  /**
   * Passive outlier ejection, or `false` for none.
   * @default {} (every default of OutlierDetectionOptions)
   */
  outlierDetection: OutlierDetectionOptions | false;
}

/** Overrides of some policies of an upstream; nested settings merge field by field. */
export interface UpstreamPolicyOverrides {
  /** See {@link UpstreamPolicies.timeoutMs}. */
  timeoutMs?: number;
  /** Retry settings to change (the budget's fields merge too), or `false` for no retries. */
  retry?: (Partial<Omit<RetrySettings, 'budget'>> & { budget?: RetrySettings['budget'] }) | false;
  /** Breaker settings to change, or `false` for no breaker. */
  breaker?: Partial<BreakerSettings> | false;
  /** Bulkhead settings to change, or `false` for no bulkhead. */
  bulkhead?: Partial<BulkheadSettings> | false;
  /** See {@link UpstreamPolicies.loadBalancing}. */
  loadBalancing?: LoadBalancing;
  /** See {@link UpstreamPolicies.connections}. */
  connections?: number;
  /** Outlier detection settings to change, or `false` to never eject. */
  outlierDetection?: OutlierDetectionOptions | false;
}

/** The built-in policies of every upstream. */
export const DEFAULT_UPSTREAM_POLICIES: UpstreamPolicies = {
  timeoutMs: 5_000,
  retry: {
    maxAttempts: 3,
    backoff: exponentialBackoff({ initialDelayMs: 100 }),
    budget: { ratio: 0.2 },
    maxRetryAfterMs: 30_000,
  },
  breaker: { strategy: () => consecutiveBreaker(5), halfOpenAfterMs: 10_000 },
  bulkhead: { limit: 100, queue: 0 },
  loadBalancing: 'least-outstanding',
  connections: 64,
  outlierDetection: {},
};

/**
 * Errors that must not be retried whatever their kind: those of a call that is not idempotent,
 * and the deadline errors of the caller's own budget.
 */
const doNotRetry = new WeakSet<object>();
/** Errors that say nothing about the upstream's health (the caller's deadline passed). */
const callerFaults = new WeakSet<object>();

/** Keeps the retry policy from retrying `err` (internal). */
export function markNotRetryable(err: unknown): void {
  if (typeof err === 'object' && err !== null) doNotRetry.add(err);
}

/** Keeps the circuit breaker from counting `err` against the upstream (internal). */
export function markCallerFault(err: unknown): void {
  if (typeof err === 'object' && err !== null) callerFaults.add(err);
}

/** Whether an error is worth another attempt: unreachable, timed out, or 408/429/502/503/504. */
const isRetryable = (err: unknown): boolean =>
  !(typeof err === 'object' && err !== null && doNotRetry.has(err)) &&
  (isUpstreamUnavailableError(err) || isTimeoutError(err) || (isUpstreamError(err) && err.retryable));

/** Whether an error counts against the circuit: 5xx, timeouts and network errors; never 4xx. */
const isUpstreamFault = (err: unknown): boolean =>
  !(typeof err === 'object' && err !== null && callerFaults.has(err)) &&
  (isUpstreamUnavailableError(err) || isTimeoutError(err) || (isUpstreamError(err) && err.status >= 500));

/** The `Retry-After` of a 429 or 503, for the retry policy's wait. */
const retryAfterOf = (outcome: { readonly kind: string; readonly error?: unknown }): number | undefined =>
  outcome.kind === 'error' && isUpstreamError(outcome.error) ? outcome.error.retryAfterMs : undefined;

/** The stateful policies of one upstream (internal): every composed pipeline shares them. */
export interface UpstreamPolicySet {
  readonly retry: AnyPolicy | undefined;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly bulkhead: BulkheadPolicy | undefined;
}

/**
 * Builds the policies of `service` from its settings (internal). Errors of the policies'
 * own validation are prefixed with `label`, which names where the settings came from.
 */
export function buildPolicies(
  service: string,
  config: UpstreamPolicies,
  clock: Clock,
  random: RandomSource,
  label = `policies of upstream "${service}"`,
): UpstreamPolicySet {
  try {
    const budget =
      config.retry === false || config.retry.budget === false
        ? undefined
        : retryBudget({ ...config.retry.budget, clock });
    return {
      budget,
      retry:
        config.retry === false
          ? undefined
          : retry({
              name: `${service}.retry`,
              clock,
              random,
              maxAttempts: config.retry.maxAttempts,
              backoff: config.retry.backoff,
              maxRetryAfterMs: config.retry.maxRetryAfterMs,
              handle: isRetryable,
              retryAfter: retryAfterOf,
              ...(budget === undefined ? {} : { budget }),
            }),
      breaker:
        config.breaker === false
          ? undefined
          : circuitBreaker({
              name: `${service}.breaker`,
              clock,
              breaker: config.breaker.strategy(),
              halfOpenAfterMs: config.breaker.halfOpenAfterMs,
              ...(config.breaker.halfOpenAfterMaxMs === undefined
                ? {}
                : { halfOpenAfterMaxMs: config.breaker.halfOpenAfterMaxMs }),
              handle: isUpstreamFault,
            }),
      bulkhead:
        config.bulkhead === false
          ? undefined
          : bulkhead({
              name: `${service}.bulkhead`,
              clock,
              limit: config.bulkhead.limit,
              queue: config.bulkhead.queue,
              ...(config.bulkhead.queueTimeoutMs === undefined
                ? {}
                : { queueTimeoutMs: config.bulkhead.queueTimeoutMs }),
            }),
    };
  } catch (err) {
    throw new RangeError(`${label}: ${(err as Error).message}`, { cause: err });
  }
}

/** `over` merged over `base`, nested settings field by field; errors name `field` (internal). */
export function mergePolicies(
  base: UpstreamPolicies,
  over: UpstreamPolicyOverrides | undefined,
  field: string,
): UpstreamPolicies {
  if (over === undefined) return base;
  if (typeof over !== 'object' || over === null)
    throw new TypeError(`${field} must be an object, got ${String(over)}`);
  const merged: UpstreamPolicies = {
    timeoutMs: over.timeoutMs ?? base.timeoutMs,
    retry: mergeRetry(base.retry, over.retry),
    breaker: mergeSection(base.breaker, over.breaker, DEFAULT_UPSTREAM_POLICIES.breaker as BreakerSettings),
    bulkhead: mergeSection(
      base.bulkhead,
      over.bulkhead,
      DEFAULT_UPSTREAM_POLICIES.bulkhead as BulkheadSettings,
    ),
    loadBalancing: over.loadBalancing ?? base.loadBalancing,
    connections: over.connections ?? base.connections,
    outlierDetection: mergeSection(base.outlierDetection, over.outlierDetection, {}),
  };
  if (typeof merged.timeoutMs !== 'number' || !(merged.timeoutMs > 0) || !Number.isFinite(merged.timeoutMs))
    throw new RangeError(`${field}.timeoutMs must be a finite number > 0, got ${String(merged.timeoutMs)}`);
  if (!Number.isInteger(merged.connections) || merged.connections < 1)
    throw new RangeError(`${field}.connections must be an integer >= 1, got ${String(merged.connections)}`);
  if (merged.loadBalancing !== 'round-robin' && merged.loadBalancing !== 'least-outstanding')
    throw new RangeError(
      `${field}.loadBalancing must be 'round-robin' or 'least-outstanding', got ${JSON.stringify(merged.loadBalancing)}`,
    );
  if (merged.breaker !== false && typeof merged.breaker.strategy !== 'function')
    throw new TypeError(`${field}.breaker.strategy must be a function returning a BreakerStrategy`);
  return merged;
}

/** A section (`breaker`, `bulkhead`, …): `false` turns it off; settings merge over the base's, or the defaults'. */
function mergeSection<S extends object>(
  base: S | false,
  over: Partial<S> | false | undefined,
  defaults: S,
): S | false {
  if (over === undefined) return base;
  if (over === false) return false;
  return { ...(base === false ? defaults : base), ...withoutUndefined(over) };
}

function mergeRetry(
  base: RetrySettings | false,
  over: UpstreamPolicyOverrides['retry'],
): RetrySettings | false {
  const merged = mergeSection<RetrySettings>(base, over, DEFAULT_UPSTREAM_POLICIES.retry as RetrySettings);
  if (merged === false || over === undefined || over === false || over.budget === undefined) return merged;
  const baseBudget = (base === false ? (DEFAULT_UPSTREAM_POLICIES.retry as RetrySettings) : base).budget;
  return {
    ...merged,
    budget: over.budget === false ? false : { ...(baseBudget === false ? {} : baseBudget), ...over.budget },
  };
}

/** A copy without the keys whose value is `undefined`, so they do not hide the base's values. */
function withoutUndefined<S extends object>(value: S): Partial<S> {
  const out: Partial<S> = {};
  for (const [key, v] of Object.entries(value))
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  return out;
}
