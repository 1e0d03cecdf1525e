import { type Clock, systemClock } from './clock.js';
import { invoke, Scope, type Work } from './context.js';
import { type Disposable, Emitter, type Listener } from './disposable.js';
import { type MetricsOptions, PolicyMetrics, type PolicySnapshot } from './metrics.js';

/** Events every policy emits. Policies add their own (`state-change`, `retry`, …). */
export type OutcomeEvent =
  | {
      /** The work returned a value. */
      readonly type: 'success';
      /** Name of the emitting policy. */
      readonly policy: string;
      readonly durationMs: number;
    }
  | {
      /** The work threw, or its result was classified as a failure. */
      readonly type: 'failure';
      readonly policy: string;
      readonly durationMs: number;
      readonly error: unknown;
    };

/** Options every policy accepts. */
export interface PolicyOptions {
  /**
   * A name for metrics, events and dashboards.
   * @default the policy's kind, e.g. `"circuit-breaker"`
   */
  name?: string;
  /**
   * Source of time for deadlines, windows and backoff; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
  /** Rolling-window metrics settings. */
  metrics?: MetricsOptions;
}

/**
 * A resilience policy: it runs work under some protection and reports what happened.
 * Every policy in this package, and every `pipeline` of them, is a `Policy`.
 */
export interface Policy<E extends { readonly type: string } = OutcomeEvent, R = never> {
  /** The kind of policy: `"timeout"`, `"retry"`, `"circuit-breaker"`, … */
  readonly kind: string;
  /** The policy's name (see {@link PolicyOptions.name}). */
  readonly name: string;
  /**
   * Runs `fn` under this policy. `fn` receives a context with an `AbortSignal` it should honour
   * and the attempt number. When `signal` aborts, the execution rejects with `signal.reason`.
   * `R` is what the policy may return instead of the work's value (a fallback's value).
   */
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T | R>;
  /** Subscribes to this policy's events; the returned handle unsubscribes. */
  onEvent(listener: Listener<E>): Disposable;
  /** The rolling metrics snapshot and current state, for dashboards and `/metrics`. */
  snapshot(): PolicySnapshot;
}

/** The internal entry point pipelines use to pass a cancellation scope down without allocating. */
export const RUN: unique symbol = Symbol('flotilla.policy.run');

/**
 * Implemented by every policy of this package (internal). `chain` and `index` name the inner
 * policies of a pipeline still to run around `fn`; a policy runs its inner work with
 * {@link proceed}, so a pipeline allocates no closure per layer.
 */
export interface Runnable {
  [RUN]<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<unknown>;
}

/** True when `p` is a policy of this copy of the package (so `RUN` can be used). */
export function isRunnable(p: unknown): p is Runnable {
  return typeof p === 'object' && p !== null && RUN in p;
}

/** Runs the rest of a pipeline (or `fn` itself) in `scope`. */
export function proceed<T>(
  fn: Work<T>,
  scope: Scope,
  chain: readonly Runnable[] | undefined,
  index: number,
): Promise<T> {
  if (chain !== undefined && index < chain.length)
    return (chain[index] as Runnable)[RUN](fn, scope, chain, index + 1) as Promise<T>;
  return invoke(fn, scope);
}

/**
 * Shared machinery of the policies (internal): naming, clock, metrics, events, and the
 * public `execute` wrapper around the scope-passing `[RUN]`.
 */
export abstract class PolicyBase<E extends { readonly type: string }, R = never>
  implements Policy<E | OutcomeEvent, R>, Runnable
{
  abstract readonly kind: string;
  readonly name: string;
  protected readonly clock: Clock;
  protected readonly metrics: PolicyMetrics;
  protected readonly events = new Emitter<E | OutcomeEvent>();

  constructor(defaultName: string, options: PolicyOptions | undefined) {
    this.name = options?.name ?? defaultName;
    this.clock = options?.clock ?? systemClock;
    this.metrics = new PolicyMetrics(this.clock, options?.metrics);
  }

  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T | R> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this[RUN](fn, Scope.root(signal), undefined, 0);
  }

  abstract [RUN]<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T | R>;

  onEvent(listener: Listener<E | OutcomeEvent>): Disposable {
    return this.events.on(listener);
  }

  snapshot(): PolicySnapshot {
    return this.metrics.snapshot(this.kind, this.name, this.snapshotState(), this.details());
  }

  /** The policy's current state for snapshots, if it has one. */
  protected snapshotState(): string | undefined {
    return undefined;
  }

  /** Policy-specific gauges for snapshots. */
  protected details(): PolicySnapshot['details'] {
    return undefined;
  }

  /** Whether this call should be timed: sampled for metrics, always when someone listens. */
  protected timed(): boolean {
    return this.events.active || this.metrics.sample();
  }

  /** Records a success, timed (`start` from the clock) or not (`start` < 0). */
  protected recordSuccess(start: number): void {
    if (start < 0) {
      this.metrics.success();
      return;
    }
    const now = this.clock.now();
    const durationMs = now - start;
    this.metrics.successTimed(durationMs, now);
    if (this.events.active) this.events.emit({ type: 'success', policy: this.name, durationMs });
  }

  /** Records a failure of the work. */
  protected recordFailure(start: number, error: unknown): void {
    const now = this.clock.now();
    const durationMs = start < 0 ? undefined : now - start;
    this.metrics.failure(now, durationMs);
    if (this.events.active)
      this.events.emit({ type: 'failure', policy: this.name, durationMs: durationMs ?? 0, error });
  }
}
