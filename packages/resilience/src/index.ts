export {
  type AdaptiveLimit,
  type AdaptiveLimitBounds,
  type AimdLimitOptions,
  aimdLimit,
  type GradientLimitOptions,
  gradientLimit,
  type LimitSample,
} from './adaptive-limit.js';
export {
  type Backoff,
  constantBackoff,
  type DecorrelatedJitterBackoffOptions,
  decorrelatedJitterBackoff,
  type ExponentialBackoffOptions,
  exponentialBackoff,
  type Jitter,
} from './backoff.js';
export type { BreakerStrategy, BreakerStrategyState, JsonValue, TripReason } from './breaker-strategy.js';
export {
  type BulkheadEvent,
  type BulkheadOptions,
  type BulkheadPolicy,
  BulkheadRejectedError,
  type BulkheadRejectionReason,
  bulkhead,
  isBulkheadRejectedError,
} from './bulkhead.js';
export {
  BrokenCircuitError,
  type CircuitBreakEvent,
  type CircuitBreakerEvent,
  CircuitBreakerMode,
  type CircuitBreakerOptions,
  type CircuitBreakerPolicy,
  type CircuitBreakerState,
  type CircuitHalfOpenEvent,
  type CircuitRejectionEvent,
  type CircuitResetEvent,
  CircuitState,
  type CircuitStateChangeEvent,
  type CircuitTransitionReason,
  circuitBreaker,
  IsolatedCircuitError,
  isBrokenCircuitError,
  isIsolatedCircuitError,
} from './circuit-breaker.js';
export {
  type CircuitBreakerRegistry,
  type CircuitBreakerRegistryEvent,
  type CircuitBreakerRegistryOptions,
  circuitBreakerRegistry,
} from './circuit-breaker-registry.js';
export { type Clock, type RandomSource, systemClock, type TimerHandle } from './clock.js';
export { type ConsecutiveBreakerState, consecutiveBreaker } from './consecutive-breaker.js';
export type { PolicyContext, Work } from './context.js';
export { type CountBreakerOptions, type CountBreakerState, countBreaker } from './count-breaker.js';
export type { Disposable, Listener } from './disposable.js';
export { FlotillaError, type FlotillaErrorOptions, flotillaCode, hasFlotillaCode } from './errors.js';
export {
  type FallbackCause,
  type FallbackEvent,
  type FallbackOptions,
  type FallbackPolicy,
  fallback,
} from './fallback.js';
export {
  type FaultInjection,
  type FaultInjectionEvent,
  type FaultInjectionOptions,
  type FaultInjectionPolicy,
  type FaultInjectionSettings,
  type FaultInjectionUpdate,
  faultInjection,
  InjectedFaultError,
  type InjectionKind,
  isInjectedFaultError,
  type LatencyInjection,
  type OutcomeInjection,
} from './fault-injection.js';
export {
  type ErrorClass,
  type ErrorFilter,
  handleAll,
  handleNone,
  handleType,
  handleWhen,
  type ResultFilter,
} from './handlers.js';
export {
  type HedgingBaseOptions,
  type HedgingDelay,
  type HedgingEvent,
  type HedgingOptions,
  type HedgingPolicy,
  hedging,
} from './hedging.js';
export { type ManualClock, manualClock } from './manual-clock.js';
export type {
  LatencySnapshot,
  MetricsOptions,
  MetricsTotals,
  PolicySnapshot,
  WindowSnapshot,
} from './metrics.js';
export {
  type AnyPolicy,
  type PipelineEvent,
  type PipelinePolicy,
  type PipelineReturn,
  pipeline,
} from './pipeline.js';
export type { OutcomeEvent, Policy, PolicyOptions } from './policy.js';
export {
  isRateLimitedError,
  RateLimitedError,
  type RateLimiterEvent,
  type RateLimiterOptions,
  type RateLimiterPolicy,
  rateLimiter,
} from './rate-limiter.js';
export {
  handleRetryable,
  isRetriesExhaustedError,
  RetriesExhaustedError,
  type RetryEvent,
  type RetryGiveUpEvent,
  type RetryGiveUpReason,
  type RetryOptions,
  type RetryOutcome,
  type RetryPolicy,
  type RetryScheduledEvent,
  retry,
} from './retry.js';
export {
  type RetryBudget,
  type RetryBudgetOptions,
  type RetryBudgetSnapshot,
  retryBudget,
} from './retry-budget.js';
export {
  type SamplingBreakerOptions,
  type SamplingBreakerState,
  type SamplingBucketState,
  samplingBreaker,
} from './sampling-breaker.js';
export {
  isTimeoutError,
  TimeoutError,
  type TimeoutEvent,
  type TimeoutOptions,
  type TimeoutPolicy,
  type TimeoutStrategy,
  timeout,
} from './timeout.js';
export {
  type KeyedTokenBuckets,
  type KeyedTokenBucketsOptions,
  keyedTokenBuckets,
  type TokenBucket,
  type TokenBucketOptions,
  tokenBucket,
} from './token-bucket.js';
