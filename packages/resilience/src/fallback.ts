import type { Scope, Work } from './context.js';
import { type ErrorFilter, handleAll, type ResultFilter } from './handlers.js';
import {
  type OutcomeEvent,
  type Policy,
  PolicyBase,
  type PolicyOptions,
  proceed,
  RUN,
  type Runnable,
} from './policy.js';

/** What a fallback function learns about the failure it replaces. */
export type FallbackCause =
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'result'; readonly value: unknown };

/** Options of {@link fallback}. */
export interface FallbackOptions<F> extends PolicyOptions {
  /**
   * The replacement: a value, or a function of the failure that returns one (it may be async).
   * A function that throws makes the execution fail with that error.
   */
  fallback: F | ((cause: FallbackCause) => F | PromiseLike<F>);
  /**
   * Which errors to replace.
   * @default handleAll
   */
  handle?: ErrorFilter;
  /**
   * Which returned values to replace as if they had failed.
   * @default none
   */
  handleResult?: ResultFilter;
}

/** Events of a fallback policy. */
export type FallbackEvent =
  | OutcomeEvent
  | {
      /** The fallback value was used instead of the work's outcome. */
      readonly type: 'fallback';
      readonly policy: string;
      readonly cause: FallbackCause;
    };

/** A fallback policy: it never rejects for a handled failure, and returns `T` or the fallback `F`. */
export interface FallbackPolicy<F> extends Policy<FallbackEvent, F> {
  readonly kind: 'fallback';
}

/**
 * Replaces a failure with a value. Cancellation is not a failure: when the caller's signal has
 * aborted, the rejection passes through.
 *
 * @example
 * const cached = fallback({ fallback: () => lastKnownPrices });
 * const prices = await cached.execute(() => pricing.get('/prices'));
 */
export function fallback<F>(options: FallbackOptions<F>): FallbackPolicy<F> {
  return new Fallback(options);
}

class Fallback<F> extends PolicyBase<FallbackEvent, F> implements FallbackPolicy<F> {
  readonly kind = 'fallback' as const;
  private readonly handle: ErrorFilter;
  private readonly handleResult: ResultFilter | undefined;
  private readonly replacement: FallbackOptions<F>['fallback'];
  private used = 0;

  constructor(options: FallbackOptions<F>) {
    super('fallback', options);
    if (!('fallback' in options))
      throw new TypeError('fallback.fallback is required (a value or a function)');
    this.replacement = options.fallback;
    this.handle = options.handle ?? handleAll;
    this.handleResult = options.handleResult;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T | F> {
    this.metrics.call();
    const start = this.timed() ? this.clock.now() : -1;
    return proceed(fn, scope, chain, index).then<T | F, F>(
      (value) => {
        if (this.handleResult?.(value)) return this.replace(start, { kind: 'result', value });
        this.recordSuccess(start);
        return value;
      },
      (error: unknown) => {
        if (scope.aborted || !this.handle(error)) {
          this.recordFailure(start, error);
          throw error;
        }
        return this.replace(start, { kind: 'error', error });
      },
    );
  }

  private async replace(start: number, cause: FallbackCause): Promise<F> {
    this.recordFailure(start, cause.kind === 'error' ? cause.error : cause.value);
    this.used++;
    if (this.events.active) this.events.emit({ type: 'fallback', policy: this.name, cause });
    const r = this.replacement;
    return typeof r === 'function' ? await (r as (cause: FallbackCause) => F | PromiseLike<F>)(cause) : r;
  }

  protected override details() {
    return { fallbacks: this.used };
  }
}
