import type { TripReason } from './breaker-strategy.js';
import type { CircuitBreakerMode, CircuitState } from './circuit-state.js';
import type { OutcomeEvent } from './policy.js';

/** Why a circuit changed state. */
export type CircuitTransitionReason =
  | TripReason
  | 'probe-failed'
  | 'probes-succeeded'
  | 'open-elapsed'
  | 'isolated'
  | 'isolation-released'
  | 'reset';

/** The circuit changed state. */
export type CircuitStateChangeEvent = {
  readonly type: 'state-change';
  /** Name of the emitting breaker. */
  readonly policy: string;
  /** The state left. */
  readonly from: CircuitState;
  /** The state entered (already current when listeners run). */
  readonly to: CircuitState;
  /** What caused the change. */
  readonly reason: CircuitTransitionReason;
};

/** The circuit opened (or was isolated). */
export type CircuitBreakEvent = {
  readonly type: 'break';
  /** Name of the emitting breaker. */
  readonly policy: string;
  /** The strategy's threshold (`failures`, `slow-calls`), a failed probe, or `isolate()`. */
  readonly reason: TripReason | 'probe-failed' | 'isolated';
  /**
   * The outcome of the failed call that opened it: the error thrown, or the value `handleResult`
   * flagged. Absent when no failure did (isolation, a slow call that succeeded).
   */
  readonly error?: unknown;
};

/** The circuit closed: probes succeeded, isolation ended, or `reset()` was called. */
export type CircuitResetEvent = {
  readonly type: 'reset';
  /** Name of the emitting breaker. */
  readonly policy: string;
};

/** The break elapsed: the circuit is half-open and admits probes. */
export type CircuitHalfOpenEvent = {
  readonly type: 'half-open';
  /** Name of the emitting breaker. */
  readonly policy: string;
};

/** A call was rejected without running. */
export type CircuitRejectionEvent = {
  readonly type: 'rejection';
  /** Name of the emitting breaker. */
  readonly policy: string;
  /** The state that rejected it. */
  readonly state: CircuitState;
  /** The mode at the time (`'forced-open'` rejects in any state). */
  readonly mode: CircuitBreakerMode;
};

/** Events of a circuit breaker. */
export type CircuitBreakerEvent =
  | OutcomeEvent
  | CircuitStateChangeEvent
  | CircuitBreakEvent
  | CircuitResetEvent
  | CircuitHalfOpenEvent
  | CircuitRejectionEvent;
