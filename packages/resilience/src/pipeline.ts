import { Scope, type Work } from './context.js';
import type { Disposable, Listener } from './disposable.js';
import type { PolicySnapshot } from './metrics.js';
import { isRunnable, type Policy, proceed, RUN, type Runnable } from './policy.js';

/** Any policy, whatever events it emits. */
// biome-ignore lint/suspicious/noExplicitAny: a pipeline accepts policies of every event and return type
export type AnyPolicy = Policy<any, any>;

/** The events of every policy in a pipeline. */
export type PipelineEvent<P extends readonly AnyPolicy[]> =
  P[number] extends Policy<infer E, infer _R> ? E : never;

/** What the policies of a pipeline may return instead of the work's value (fallback values). */
export type PipelineReturn<P extends readonly AnyPolicy[]> =
  P[number] extends Policy<infer _E, infer R> ? R : never;

/** A composition of policies, itself a policy. */
export interface PipelinePolicy<P extends readonly AnyPolicy[] = AnyPolicy[]>
  extends Policy<PipelineEvent<P>, PipelineReturn<P>> {
  readonly kind: 'pipeline';
  /** The composed policies, outermost first. */
  readonly policies: P;
}

/**
 * Composes policies into one. The first policy is the outermost: `pipeline(a, b, c).execute(fn)`
 * runs `a(b(c(fn)))`. Order matters, and the usual one is
 * `pipeline(fallback, totalTimeout, retry, circuitBreaker, attemptTimeout, bulkhead)`:
 * the total timeout bounds every retry, each retry passes through the breaker (so an open
 * breaker stops retries at once), and the per-attempt timeout is counted by the breaker.
 *
 * `onEvent` on a pipeline subscribes to the events of every policy in it; `snapshot()` reports
 * the outermost policy's counters (which are the pipeline's) with every inner snapshot.
 *
 * @example
 * const policy = pipeline(
 *   timeout({ timeoutMs: 2_000 }),
 *   retry({ maxAttempts: 3, backoff: exponentialBackoff({ initialDelayMs: 50 }) }),
 *   circuitBreaker({ breaker: consecutiveBreaker(5), halfOpenAfterMs: 10_000 }),
 *   bulkhead({ limit: 10 }),
 * );
 * const user = await policy.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 */
export function pipeline<const P extends readonly AnyPolicy[]>(...policies: P): PipelinePolicy<P> {
  if (policies.length === 0) throw new RangeError('pipeline() needs at least one policy');
  return new Pipeline(policies);
}

class Pipeline<P extends readonly AnyPolicy[]> implements PipelinePolicy<P>, Runnable {
  readonly kind = 'pipeline' as const;
  readonly name: string;
  private readonly chain: readonly Runnable[];

  constructor(readonly policies: P) {
    this.name = policies.map((p) => p.name).join('>');
    this.chain = policies.map((p) => (isRunnable(p) ? p : new Foreign(p)));
  }

  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T | PipelineReturn<P>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return proceed(fn, Scope.root(signal), this.chain, 0) as Promise<T | PipelineReturn<P>>;
  }

  [RUN]<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<unknown> {
    // A pipeline nested in another: run ours, then continue with the outer chain.
    if (chain === undefined || index >= chain.length) return proceed(fn, scope, this.chain, 0);
    return proceed((ctx) => proceed(fn, scopeOf(ctx), chain, index), scope, this.chain, 0);
  }

  onEvent(listener: Listener<PipelineEvent<P>>): Disposable {
    const subscriptions = this.policies.map((p) => p.onEvent(listener));
    return {
      dispose: () => {
        for (const s of subscriptions) s.dispose();
      },
    };
  }

  snapshot(): PolicySnapshot {
    const inner = this.policies.map((p) => p.snapshot());
    const outer = inner[0] as PolicySnapshot;
    return { kind: this.kind, name: this.name, totals: outer.totals, window: outer.window, policies: inner };
  }
}

/** A policy from another copy of this package (or any `Policy`), run through its public `execute`. */
class Foreign implements Runnable {
  constructor(private readonly policy: AnyPolicy) {}

  [RUN]<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<unknown> {
    return this.policy.execute((ctx) => proceed(fn, scopeOf(ctx), chain, index), scope.signal);
  }
}

/** The scope behind a context handed to inner work (a foreign policy makes its own context). */
function scopeOf(context: { readonly signal: AbortSignal; readonly attempt: number }): Scope {
  return context instanceof Scope ? context : Scope.root(context.signal).withAttempt(context.attempt);
}
