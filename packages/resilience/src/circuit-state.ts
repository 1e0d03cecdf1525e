import type { BreakerStrategyState } from './breaker-strategy.js';
import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from './errors.js';

/** The states of a circuit (strings, so they persist and log well). */
export const CircuitState = {
  /** Calls pass; the strategy watches their outcomes. */
  Closed: 'closed',
  /** Calls are rejected with {@link BrokenCircuitError} until the break elapses. */
  Open: 'open',
  /** The break has elapsed: a few probe calls pass and decide whether the circuit closes. */
  HalfOpen: 'half-open',
  /** Held open by hand with `isolate()`: calls are rejected with {@link IsolatedCircuitError}. */
  Isolated: 'isolated',
} as const;

/** A state of a circuit: `'closed' | 'open' | 'half-open' | 'isolated'`. */
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** How a breaker treats calls, switchable at run time (resilience4j's special states). */
export const CircuitBreakerMode = {
  /** The state machine decides. */
  Normal: 'normal',
  /** Every call is rejected with {@link BrokenCircuitError}, whatever the state. */
  ForcedOpen: 'forced-open',
  /** Every call passes; outcomes are counted in metrics only, and the state machine is frozen. */
  Disabled: 'disabled',
  /** The state machine runs and emits events, but no call is ever rejected: a dry run. */
  MetricsOnly: 'metrics-only',
} as const;

/** A mode of a breaker: `'normal' | 'forced-open' | 'disabled' | 'metrics-only'`. */
export type CircuitBreakerMode = (typeof CircuitBreakerMode)[keyof typeof CircuitBreakerMode];

/** Raised instead of running the work while the circuit is open. `retryable`: try later. */
export class BrokenCircuitError extends FlotillaError {
  override readonly name = 'BrokenCircuitError';
  readonly retryable = true;

  constructor(
    /**
     * Time until the breaker may admit a probe, in milliseconds: 0 when half-open with its probe
     * slots busy; `halfOpenAfterMs` (a hint only) while the breaker is forced open.
     */
    readonly retryAfterMs: number,
    options?: FlotillaErrorOptions,
  ) {
    super('BROKEN_CIRCUIT', `circuit is open; next probe in ${Math.ceil(retryAfterMs)} ms`, options);
  }
}

/** True when `err` is a {@link BrokenCircuitError} (from any copy of this package). */
export function isBrokenCircuitError(err: unknown): err is BrokenCircuitError {
  return hasFlotillaCode(err, 'BROKEN_CIRCUIT');
}

/** Raised while the circuit is held open by `isolate()`. Not retryable: an operator decides. */
export class IsolatedCircuitError extends FlotillaError {
  override readonly name = 'IsolatedCircuitError';
  readonly retryable = false;

  constructor(options?: FlotillaErrorOptions) {
    super('ISOLATED_CIRCUIT', 'circuit is isolated (held open by hand)', options);
  }
}

/** True when `err` is an {@link IsolatedCircuitError} (from any copy of this package). */
export function isIsolatedCircuitError(err: unknown): err is IsolatedCircuitError {
  return hasFlotillaCode(err, 'ISOLATED_CIRCUIT');
}

/**
 * A breaker's state as JSON data, from `exportState()`, to restore with `initialState` (in the
 * next invocation of a serverless function, say). Times are remaining durations, never clock
 * readings: monotonic clocks of two processes share no origin.
 */
export interface CircuitBreakerState {
  /** Format version; always 1. */
  readonly version: 1;
  /** The circuit's state. */
  readonly state: CircuitState;
  /** Open only: milliseconds until a probe may be admitted. */
  readonly openRemainingMs?: number;
  /** Open and half-open only: breaks since the circuit last closed (1 for the first), which sets the next break's length. */
  readonly openCount?: number;
  /** The strategy's own exported state. */
  readonly strategy: BreakerStrategyState;
}
