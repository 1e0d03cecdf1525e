import { deadlineNow, type TimerHandle } from './clock.js';
import { Scope, type Work } from './context.js';
import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from './errors.js';
import {
  type OutcomeEvent,
  type Policy,
  PolicyBase,
  type PolicyOptions,
  proceed,
  RUN,
  type Runnable,
} from './policy.js';

/** Raised when work does not finish within its timeout. `retryable`: a later attempt may be faster. */
export class TimeoutError extends FlotillaError {
  override readonly name = 'TimeoutError';
  readonly retryable = true;

  constructor(
    /** The timeout that elapsed, in milliseconds. */
    readonly timeoutMs: number,
    options?: FlotillaErrorOptions,
  ) {
    super('TIMEOUT', `operation timed out after ${timeoutMs} ms`, options);
  }
}

/** True when `err` is a {@link TimeoutError} (from any copy of this package). */
export function isTimeoutError(err: unknown): err is TimeoutError {
  return hasFlotillaCode(err, 'TIMEOUT');
}

/**
 * How a timeout ends work that overruns:
 * - `cooperative`: abort the work's signal and wait for the work to stop; it rejects with
 *   {@link TimeoutError} once the work rejects. A work that still returns a value is honoured.
 * - `aggressive`: also reject at the deadline, without waiting for work that ignores its signal.
 */
export type TimeoutStrategy = 'cooperative' | 'aggressive';

/** Options of {@link timeout}. */
export interface TimeoutOptions extends PolicyOptions {
  /** Time allowed for the work, in milliseconds. */
  timeoutMs: number;
  /**
   * See {@link TimeoutStrategy}.
   * @default 'cooperative'
   */
  strategy?: TimeoutStrategy;
}

/** Events of a timeout policy. */
export type TimeoutEvent =
  | OutcomeEvent
  | {
      /** The deadline passed; the work's signal was aborted. */
      readonly type: 'timeout';
      readonly policy: string;
      readonly timeoutMs: number;
    };

/** A timeout policy. */
export interface TimeoutPolicy extends Policy<TimeoutEvent> {
  readonly kind: 'timeout';
  readonly timeoutMs: number;
  readonly strategy: TimeoutStrategy;
}

/**
 * Bounds how long work may run. Put it inside a retry for a per-attempt timeout and outside for
 * a total one. All pending deadlines of a policy share one timer, and the `TimeoutError` is only
 * created when a deadline actually passes, so a call that finishes in time costs no timer and no
 * allocation beyond its scope.
 *
 * @example
 * const perAttempt = timeout({ timeoutMs: 500 });
 * const body = await perAttempt.execute(({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 */
export function timeout(options: TimeoutOptions): TimeoutPolicy;
/** Shorthand: `timeout(500, 'aggressive')`. */
export function timeout(timeoutMs: number, strategy?: TimeoutStrategy): TimeoutPolicy;
export function timeout(arg: TimeoutOptions | number, strategy?: TimeoutStrategy): TimeoutPolicy {
  const options: TimeoutOptions =
    typeof arg === 'number' ? { timeoutMs: arg, ...(strategy === undefined ? {} : { strategy }) } : arg;
  return new Timeout(options);
}

/** A pending execution in the deadline list: its scope plus intrusive list links. */
class TimedScope extends Scope {
  deadline = 0;
  prev: TimedScope | undefined;
  next: TimedScope | undefined;
  linked = false;
  /** Set once the execution has ended early: the timeout error, or the caller's abort reason. */
  error: unknown;
  /** Set by the aggressive strategy: rejects the execution at the deadline. */
  reject: ((err: unknown) => void) | undefined;

  constructor(parent: Scope) {
    super(parent, undefined, parent.attempt, true);
  }
}

class Timeout extends PolicyBase<TimeoutEvent> implements TimeoutPolicy {
  readonly kind = 'timeout' as const;
  readonly timeoutMs: number;
  readonly strategy: TimeoutStrategy;
  private head: TimedScope | undefined;
  private tail: TimedScope | undefined;
  private timer: TimerHandle | undefined;
  private timedOutCount = 0;

  constructor(options: TimeoutOptions) {
    super('timeout', options);
    const { timeoutMs, strategy = 'cooperative' } = options;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new RangeError(`timeout.timeoutMs must be a finite number > 0, got ${String(timeoutMs)}`);
    if (strategy !== 'cooperative' && strategy !== 'aggressive')
      throw new RangeError(`timeout.strategy must be 'cooperative' or 'aggressive', got ${String(strategy)}`);
    this.timeoutMs = timeoutMs;
    this.strategy = strategy;
  }

  [RUN]<T>(fn: Work<T>, parent: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T> {
    this.metrics.call();
    const now = deadlineNow(this.clock);
    const start = this.timed() ? this.clock.now() : -1;
    const scope = new TimedScope(parent);
    scope.deadline = now + this.timeoutMs;
    this.link(scope);
    const work = proceed(fn, scope, chain, index);
    if (this.strategy === 'cooperative') {
      return work.then(
        (value) => {
          this.unlink(scope);
          scope.dispose();
          this.recordSuccess(start);
          return value;
        },
        (err: unknown) => {
          this.unlink(scope);
          scope.dispose();
          const error = scope.error === undefined ? err : attachCause(scope.error as TimeoutError, err);
          this.recordFailure(start, error);
          throw error;
        },
      );
    }
    return new Promise<T>((resolve, reject) => {
      scope.reject = reject;
      // Aggressive also means not waiting for work that ignores its caller's cancellation.
      const onCallerAbort = parent.cancellable
        ? parent.onAbort((reason) => {
            if (scope.error !== undefined) return;
            scope.error = reason as TimeoutError;
            this.unlink(scope);
            scope.abort(reason);
            scope.dispose();
            this.recordFailure(start, reason);
            reject(reason);
          })
        : undefined;
      work.then(
        (value) => {
          onCallerAbort?.dispose();
          if (scope.error !== undefined) return; // already rejected at the deadline
          this.unlink(scope);
          scope.dispose();
          this.recordSuccess(start);
          resolve(value);
        },
        (err: unknown) => {
          onCallerAbort?.dispose();
          if (scope.error !== undefined) return;
          this.unlink(scope);
          scope.dispose();
          this.recordFailure(start, err);
          reject(err);
        },
      );
    });
  }

  protected override details() {
    return {
      timeoutMs: this.timeoutMs,
      strategy: this.strategy,
      timedOut: this.timedOutCount,
      pending: this.pending(),
    };
  }

  private pending(): number {
    let n = 0;
    for (let s = this.head; s !== undefined; s = s.next) n++;
    return n;
  }

  private link(scope: TimedScope): void {
    scope.linked = true;
    if (this.tail === undefined) {
      this.head = this.tail = scope;
      if (this.timer === undefined) this.arm(this.timeoutMs);
      return;
    }
    scope.prev = this.tail;
    this.tail.next = scope;
    this.tail = scope;
  }

  private unlink(scope: TimedScope): void {
    if (!scope.linked) return;
    scope.linked = false;
    if (scope.prev === undefined) this.head = scope.next;
    else scope.prev.next = scope.next;
    if (scope.next === undefined) this.tail = scope.prev;
    else scope.next.prev = scope.prev;
    scope.prev = scope.next = undefined;
  }

  /** Arms the single timer, unref'd: it is not cleared when the list empties (re-arming would cost more) and must not hold the process open. */
  private arm(delayMs: number): void {
    this.timer = this.clock.setTimeout(this.fire, delayMs, true);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    for (let s = this.head; s !== undefined && s.deadline <= now; s = this.head) {
      this.unlink(s);
      this.expire(s);
    }
    if (this.head !== undefined) this.arm(Math.max(0, this.head.deadline - now));
  };

  private expire(scope: TimedScope): void {
    const error = new TimeoutError(this.timeoutMs);
    scope.error = error;
    this.timedOutCount++;
    if (this.events.active)
      this.events.emit({ type: 'timeout', policy: this.name, timeoutMs: this.timeoutMs });
    scope.abort(error);
    if (scope.reject !== undefined) {
      scope.dispose();
      this.recordFailure(scope.deadline - this.timeoutMs, error);
      scope.reject(error);
    }
  }
}

/** Gives the timeout error the work's own rejection as its cause, unless that is the timeout itself. */
function attachCause(timeoutError: TimeoutError, workError: unknown): TimeoutError {
  if (workError !== timeoutError && timeoutError.cause === undefined)
    Object.defineProperty(timeoutError, 'cause', { value: workError, configurable: true, writable: true });
  return timeoutError;
}
