import type { Clock } from './clock.js';

/** Why a strategy asks the circuit to open: too many failures, or too many slow calls. */
export type TripReason = 'failures' | 'slow-calls';

/** A JSON value, as found in exported state. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** The exported state of a strategy: JSON data tagged with the strategy's `kind`. */
export type BreakerStrategyState = { readonly kind: string; readonly [field: string]: JsonValue };

/**
 * Decides when a closed circuit opens (cockatiel's `IBreaker`, resilience4j's sliding window).
 * The circuit breaker reports the outcome of every call admitted while it is closed; half-open
 * probes are judged by the breaker itself (`halfOpenSuccesses`), not by the strategy.
 *
 * A strategy instance is stateful and belongs to exactly one circuit breaker: create one per
 * breaker (a {@link circuitBreakerRegistry} takes a factory for this reason). Passing the same
 * instance to a second breaker throws.
 */
export interface BreakerStrategy {
  /** The strategy's kind, e.g. `"consecutive"`; also tags its exported state. */
  readonly kind: string;
  /**
   * Whether the strategy needs the duration of every call (slow-call detection). When true the
   * breaker times every call; otherwise it times only the calls its metrics sample and passes
   * `undefined` for the others.
   */
  readonly needsDurations: boolean;
  /** Called once by the breaker that owns the strategy, with that breaker's clock. */
  attach(clock: Clock): void;
  /**
   * A call succeeded while the circuit was closed. `durationMs` is its duration when it was
   * timed. Returns why the circuit should open (a slow-call rate), or `undefined`.
   */
  success(durationMs?: number): TripReason | undefined;
  /** A call failed while the circuit was closed. Returns why the circuit should open, or `undefined`. */
  failure(durationMs?: number): TripReason | undefined;
  /**
   * The break has elapsed and the circuit is half-open: probes decide from now on, and the
   * strategy hears nothing more until the circuit closes (which calls {@link reset}).
   */
  halfOpen(): void;
  /** Forgets every recorded outcome: the circuit closed, or was reset by hand. */
  reset(): void;
  /** The recorded outcomes as JSON data (times as ages, never clock readings). */
  exportState(): BreakerStrategyState;
  /**
   * Replaces the recorded outcomes with exported ones. Validates everything before changing
   * anything, and throws a `TypeError` naming the bad field, prefixed with `field`.
   */
  restoreState(state: unknown, field?: string): void;
}

/** A value as shown in a validation message (internal). */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/** Checks that `value` is a plain record and returns it (internal). */
export function expectRecord(value: unknown, field: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`${field} must be an object, got ${show(value)}`);
  return value as Readonly<Record<string, unknown>>;
}

/** Checks that `value` is an integer in `[min, max]` and returns it (internal). */
export function expectInteger(
  value: unknown,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new TypeError(
      `${field} must be an integer >= ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` and <= ${max}`}, got ${show(value)}`,
    );
  return value;
}

/** Checks that a restored state names the strategy it is restored into (internal). */
export function expectKind(state: Readonly<Record<string, unknown>>, field: string, kind: string): void {
  if (state.kind !== kind) throw new TypeError(`${field}.kind must be '${kind}', got ${show(state.kind)}`);
}

/** Validates a rate option (`threshold`, `slowCallRateThreshold`): a number in (0, 1] (internal). */
export function checkRate(value: unknown, field: string): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1))
    throw new RangeError(`${field} must be a number > 0 and <= 1, got ${show(value)}`);
  return value;
}

/** Validates an integer option (internal). */
export function checkInteger(
  value: unknown,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new RangeError(
      `${field} must be an integer >= ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` and <= ${max}`}, got ${show(value)}`,
    );
  return value;
}

/** The slow-call settings shared by the count and sampling strategies (internal). */
export interface SlowCallSettings {
  /** Calls longer than this are slow; `Infinity` when slow calls are not tracked. */
  readonly slowCallDurationMs: number;
  readonly slowCallRateThreshold: number;
}

/** Validates `slowCallDurationMs` and `slowCallRateThreshold` of `owner`'s options (internal). */
export function checkSlowCalls(
  owner: string,
  options: { slowCallDurationMs?: number; slowCallRateThreshold?: number },
): SlowCallSettings {
  const { slowCallDurationMs, slowCallRateThreshold } = options;
  if (slowCallDurationMs === undefined) {
    if (slowCallRateThreshold !== undefined)
      throw new TypeError(`${owner}.slowCallRateThreshold needs ${owner}.slowCallDurationMs`);
    return { slowCallDurationMs: Number.POSITIVE_INFINITY, slowCallRateThreshold: 1 };
  }
  if (
    typeof slowCallDurationMs !== 'number' ||
    !(slowCallDurationMs >= 0) ||
    !Number.isFinite(slowCallDurationMs)
  )
    throw new RangeError(
      `${owner}.slowCallDurationMs must be a finite number >= 0, got ${show(slowCallDurationMs)}`,
    );
  return {
    slowCallDurationMs,
    slowCallRateThreshold: checkRate(slowCallRateThreshold ?? 1, `${owner}.slowCallRateThreshold`),
  };
}
