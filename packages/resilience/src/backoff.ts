import type { RandomSource } from './clock.js';

/**
 * How long to wait before each retry. A backoff holds no per-execution state, so one instance can
 * serve every execution of every policy: what a stateful strategy needs (decorrelated jitter) is
 * passed back in as `previousDelayMs`.
 */
export interface Backoff {
  /**
   * The delay before a retry, in milliseconds.
   * @param attempt the number of the retry: 1 for the first retry, 2 for the second, …
   * @param previousDelayMs what this backoff returned for the previous retry of the same
   *   execution; 0 before the first retry
   * @param random a source of uniform numbers in [0, 1) for jitter
   */
  delayMs(attempt: number, previousDelayMs: number, random: RandomSource): number;
}

/**
 * The same delay before every retry.
 *
 * @example
 * const policy = retry({ maxAttempts: 5, backoff: constantBackoff(200) });
 */
export function constantBackoff(delayMs: number): Backoff {
  checkDelay('constantBackoff.delayMs', delayMs);
  return { delayMs: () => delayMs };
}

/**
 * Which randomisation an {@link exponentialBackoff} applies to its delay `d`
 * (see the AWS article "Exponential Backoff And Jitter"):
 * - `none`: exactly `d`;
 * - `full`: uniform in [0, d) — spreads synchronised clients best;
 * - `equal`: `d/2` plus uniform in [0, d/2) — never shorter than half the delay.
 */
export type Jitter = 'none' | 'full' | 'equal';

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /**
   * Delay before the first retry (before jitter), in milliseconds.
   * @default 100
   */
  initialDelayMs?: number;
  /**
   * Upper bound of any delay (before jitter), in milliseconds.
   * @default 30000
   */
  maxDelayMs?: number;
  /**
   * Growth factor between consecutive retries.
   * @default 2
   */
  exponent?: number;
  /**
   * See {@link Jitter}.
   * @default 'full'
   */
  jitter?: Jitter;
}

/**
 * Delays that grow geometrically: `min(maxDelayMs, initialDelayMs * exponent^(attempt - 1))`,
 * then jittered.
 *
 * @example
 * const backoff = exponentialBackoff({ initialDelayMs: 50, maxDelayMs: 5_000, jitter: 'equal' });
 * const policy = retry({ maxAttempts: 4, backoff });
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const { initialDelayMs = 100, maxDelayMs = 30_000, exponent = 2, jitter = 'full' } = options;
  checkDelay('exponentialBackoff.initialDelayMs', initialDelayMs);
  checkMax('exponentialBackoff', initialDelayMs, maxDelayMs);
  if (typeof exponent !== 'number' || !(exponent >= 1) || !Number.isFinite(exponent))
    throw new RangeError(`exponentialBackoff.exponent must be a finite number >= 1, got ${String(exponent)}`);
  if (jitter !== 'none' && jitter !== 'full' && jitter !== 'equal')
    throw new RangeError(
      `exponentialBackoff.jitter must be 'none', 'full' or 'equal', got ${String(jitter)}`,
    );
  return {
    delayMs(attempt, _previousDelayMs, random) {
      // `**` overflows to Infinity for large attempts; `min` brings that back to the cap.
      const d = Math.min(maxDelayMs, initialDelayMs * exponent ** (attempt - 1));
      if (jitter === 'none') return d;
      if (jitter === 'full') return random() * d;
      return d / 2 + (random() * d) / 2;
    },
  };
}

/** Options of {@link decorrelatedJitterBackoff}. */
export interface DecorrelatedJitterBackoffOptions {
  /**
   * The smallest delay, and the first retry's upper reference, in milliseconds.
   * @default 100
   */
  initialDelayMs?: number;
  /**
   * Upper bound of any delay, in milliseconds.
   * @default 30000
   */
  maxDelayMs?: number;
}

/**
 * AWS's "decorrelated jitter": each delay is `min(maxDelayMs, uniform(initialDelayMs,
 * previous * 3))`, starting from `previous = initialDelayMs`. Delays grow on average but each
 * execution wanders on its own path, which spreads retries of many clients well.
 *
 * @example
 * const policy = retry({ maxAttempts: 6, backoff: decorrelatedJitterBackoff({ initialDelayMs: 20 }) });
 */
export function decorrelatedJitterBackoff(options: DecorrelatedJitterBackoffOptions = {}): Backoff {
  const { initialDelayMs = 100, maxDelayMs = 30_000 } = options;
  if (typeof initialDelayMs !== 'number' || !(initialDelayMs > 0) || !Number.isFinite(initialDelayMs))
    throw new RangeError(
      `decorrelatedJitterBackoff.initialDelayMs must be a finite number > 0, got ${String(initialDelayMs)}`,
    );
  checkMax('decorrelatedJitterBackoff', initialDelayMs, maxDelayMs);
  return {
    delayMs(_attempt, previousDelayMs, random) {
      const previous = Math.max(initialDelayMs, previousDelayMs);
      return Math.min(maxDelayMs, initialDelayMs + random() * (previous * 3 - initialDelayMs));
    },
  };
}

function checkDelay(field: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    throw new RangeError(`${field} must be a finite number >= 0, got ${String(value)}`);
}

function checkMax(factory: string, initialDelayMs: number, maxDelayMs: number): void {
  if (typeof maxDelayMs !== 'number' || !(maxDelayMs >= initialDelayMs) || !Number.isFinite(maxDelayMs))
    throw new RangeError(
      `${factory}.maxDelayMs must be a finite number >= initialDelayMs (${initialDelayMs}), got ${String(maxDelayMs)}`,
    );
}
