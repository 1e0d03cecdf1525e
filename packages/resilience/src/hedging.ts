import { deadlineNow, type TimerHandle } from './clock.js';
import type { Scope, Work } from './context.js';
import type { Disposable } from './disposable.js';
import type { ErrorFilter } from './handlers.js';
import { LatencyHistogram } from './latency-histogram.js';
import {
  type OutcomeEvent,
  type Policy,
  PolicyBase,
  type PolicyOptions,
  proceed,
  RUN,
  type Runnable,
} from './policy.js';
import { handleRetryable } from './retry.js';
import type { RetryBudget } from './retry-budget.js';

/** A hedging delay that follows the observed latency of the policy's successful attempts. */
export interface HedgingDelay {
  /** The latency quantile to wait for before hedging, in (0, 1]: 0.95 hedges the slowest 5%. */
  quantile: number;
  /**
   * Lower bound of the delay, in milliseconds.
   * @default 10
   */
  minDelayMs?: number;
  /**
   * Upper bound of the delay, in milliseconds; also the delay while the window holds no latency yet.
   * @default 1000
   */
  maxDelayMs?: number;
  /**
   * Length of the rolling window of observed latencies, in milliseconds.
   * @default 10000
   */
  windowMs?: number;
}

/** Options of {@link hedging} besides its delay. */
export interface HedgingBaseOptions extends PolicyOptions {
  /**
   * Extra attempts that may run beside the first one.
   * @default 1
   */
  maxHedgedAttempts?: number;
  /**
   * Which errors let another attempt run; any other error ends the execution at once.
   * @default handleRetryable (every error but Flotilla errors with `retryable: false`)
   */
  handle?: ErrorFilter;
  /** A budget each hedge withdraws from (and each execution deposits into); no token, no hedge. */
  budget?: RetryBudget;
}

/** Options of {@link hedging}: a fixed `delayMs` or an adaptive `delay`, exactly one. */
export type HedgingOptions = HedgingBaseOptions &
  (
    | {
        /** Time to wait for an attempt before starting the next one, in milliseconds. */
        delayMs: number;
        /** Not with `delayMs`. */
        delay?: never;
      }
    | {
        /** Wait for a quantile of the observed latency before starting the next attempt. */
        delay: HedgingDelay;
        /** Not with `delay`. */
        delayMs?: never;
      }
  );

/** Events of a hedging policy. */
export type HedgingEvent =
  | OutcomeEvent
  | {
      /** Another attempt was started. */
      readonly type: 'hedge';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** Its attempt number as the work sees it: 2 for the first hedge. */
      readonly attempt: number;
      /** How long after the previous attempt it started, in milliseconds (0 after a failure). */
      readonly delayMs: number;
    }
  | {
      /** A hedged attempt (not the first one) finished first. */
      readonly type: 'hedge-won';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** The winning attempt's number. */
      readonly attempt: number;
    };

/** A hedging policy. */
export interface HedgingPolicy extends Policy<HedgingEvent> {
  readonly kind: 'hedging';
  /** Extra attempts that may run beside the first one (see {@link HedgingBaseOptions.maxHedgedAttempts}). */
  readonly maxHedgedAttempts: number;
}

/**
 * Cuts tail latency by racing: when an attempt has not finished after a delay, another one
 * starts, and the first success wins; the others are aborted. Only for idempotent work. A
 * budget keeps hedges from doubling the load on an upstream that is slow for everyone.
 *
 * @example
 * const reads = hedging({ delay: { quantile: 0.95 }, maxHedgedAttempts: 1, budget: retryBudget({ ratio: 0.05 }) });
 * const item = await reads.execute(({ signal }) => fetch(itemUrl, { signal }).then((r) => r.json()));
 */
export function hedging(options: HedgingOptions): HedgingPolicy {
  return new Hedging(options);
}

const RECOMPUTE_ALWAYS_BELOW = 256;
const WINDOW_BUCKETS = 10;

/** The rolling latency window behind an adaptive delay, and the delay it currently implies. */
class AdaptiveDelay {
  private readonly quantile: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly bucketMs: number;
  private readonly buckets: LatencyHistogram[];
  private readonly merged: LatencyHistogram;
  private currentIndex: number;
  private sinceCompute: number;
  private stale: boolean;
  private delayMs: number;

  constructor(delay: HedgingDelay, now: number) {
    const { quantile, minDelayMs = 10, maxDelayMs = 1_000, windowMs = 10_000 } = delay;
    if (typeof quantile !== 'number' || !(quantile > 0 && quantile <= 1))
      throw new RangeError(`hedging.delay.quantile must be a number in (0, 1], got ${String(quantile)}`);
    if (typeof minDelayMs !== 'number' || !(minDelayMs >= 0) || !Number.isFinite(minDelayMs))
      throw new RangeError(
        `hedging.delay.minDelayMs must be a finite number >= 0, got ${String(minDelayMs)}`,
      );
    if (typeof maxDelayMs !== 'number' || !(maxDelayMs >= minDelayMs) || !Number.isFinite(maxDelayMs))
      throw new RangeError(
        `hedging.delay.maxDelayMs must be a finite number >= minDelayMs (${minDelayMs}), got ${String(maxDelayMs)}`,
      );
    if (typeof windowMs !== 'number' || !(windowMs > 0) || !Number.isFinite(windowMs))
      throw new RangeError(`hedging.delay.windowMs must be a finite number > 0, got ${String(windowMs)}`);
    this.quantile = quantile;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.bucketMs = windowMs / WINDOW_BUCKETS;
    this.buckets = Array.from({ length: WINDOW_BUCKETS }, () => new LatencyHistogram());
    this.merged = new LatencyHistogram();
    this.currentIndex = Math.floor(now / this.bucketMs);
    this.sinceCompute = 0;
    this.stale = false;
    this.delayMs = maxDelayMs;
  }

  /** Records the latency of a successful attempt that ended at `now`. */
  record(durationMs: number, now: number): void {
    this.slide(now);
    (this.buckets[this.currentIndex % WINDOW_BUCKETS] as LatencyHistogram).record(durationMs);
    this.sinceCompute++;
  }

  /** The delay to use now, in milliseconds. */
  current(now: number): number {
    this.slide(now);
    // Merging the window costs thousands of additions, so it is redone only when the window has
    // slid or the samples since the last merge could have moved the quantile noticeably: always
    // while the window holds few (a new policy adapts at once), then once they reach 1/16 of it.
    const since = this.sinceCompute;
    if (
      this.stale ||
      (since > 0 && (this.merged.count < RECOMPUTE_ALWAYS_BELOW || since * 16 >= this.merged.count))
    )
      this.recompute();
    return this.delayMs;
  }

  private recompute(): void {
    const merged = this.merged;
    merged.clear();
    for (const b of this.buckets) merged.merge(b);
    this.sinceCompute = 0;
    this.stale = false;
    this.delayMs =
      merged.count === 0
        ? this.maxDelayMs
        : Math.min(this.maxDelayMs, Math.max(this.minDelayMs, merged.quantile(this.quantile)));
  }

  private slide(now: number): void {
    const index = Math.floor(now / this.bucketMs);
    if (index <= this.currentIndex) return;
    const steps = Math.min(WINDOW_BUCKETS, index - this.currentIndex);
    for (let i = 1; i <= steps; i++)
      (this.buckets[(this.currentIndex + i) % WINDOW_BUCKETS] as LatencyHistogram).clear();
    this.currentIndex = index;
    this.stale = true;
  }
}

/** An execution waiting for its next hedge, linked into its policy's deadline list. */
interface Scheduled {
  deadline: number;
  prev: Scheduled | undefined;
  next: Scheduled | undefined;
  linked: boolean;
  /** Called by the policy's timer once `deadline` has passed. */
  onDue(now: number): void;
}

class Hedging extends PolicyBase<HedgingEvent> implements HedgingPolicy {
  readonly kind = 'hedging' as const;
  readonly maxHedgedAttempts: number;
  readonly handle: ErrorFilter;
  readonly budget: RetryBudget | undefined;
  readonly adaptive: AdaptiveDelay | undefined;
  private readonly fixedDelayMs: number;
  hedges: number;
  hedgesWon: number;
  hedgesDenied: number;
  /** Executions waiting for a hedge, by deadline; one timer serves them all, as in `timeout`. */
  private head: Scheduled | undefined;
  private tail: Scheduled | undefined;
  private timer: TimerHandle | undefined;
  private timerAt: number;
  private firing: boolean;

  constructor(options: HedgingOptions) {
    super('hedging', options);
    const { maxHedgedAttempts = 1, handle, budget, delayMs, delay } = options;
    if (!Number.isInteger(maxHedgedAttempts) || maxHedgedAttempts < 1)
      throw new RangeError(
        `hedging.maxHedgedAttempts must be an integer >= 1, got ${String(maxHedgedAttempts)}`,
      );
    if (handle !== undefined && typeof handle !== 'function')
      throw new TypeError(`hedging.handle must be a function, got ${typeof handle}`);
    if ((delayMs === undefined) === (delay === undefined))
      throw new TypeError('hedging needs exactly one of delayMs (a number) and delay ({ quantile, … })');
    if (
      delayMs !== undefined &&
      (typeof delayMs !== 'number' || !(delayMs >= 0) || !Number.isFinite(delayMs))
    )
      throw new RangeError(`hedging.delayMs must be a finite number >= 0, got ${String(delayMs)}`);
    this.maxHedgedAttempts = maxHedgedAttempts;
    this.handle = handle ?? handleRetryable;
    this.budget = budget;
    this.adaptive = delay === undefined ? undefined : new AdaptiveDelay(delay, this.clock.now());
    this.fixedDelayMs = delayMs ?? 0;
    this.hedges = 0;
    this.hedgesWon = 0;
    this.hedgesDenied = 0;
    this.head = undefined;
    this.tail = undefined;
    this.timer = undefined;
    this.timerAt = 0;
    this.firing = false;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    this.metrics.call();
    this.budget?.deposit();
    let start: number;
    let now: number;
    let delayMs: number;
    if (this.adaptive !== undefined) {
      // An adaptive delay needs every successful attempt's latency, so every call is timed.
      start = now = this.clock.now();
      delayMs = this.adaptive.current(now);
    } else {
      start = this.timed() ? this.clock.now() : -1;
      now = start >= 0 ? start : deadlineNow(this.clock);
      delayMs = this.fixedDelayMs;
    }
    return new Promise<T>((resolve, reject) => {
      new HedgedExecution(this, fn, scope, chain, index, start, delayMs, resolve, reject).begin(now);
    });
  }

  protected override details() {
    return {
      delayMs: this.adaptive === undefined ? this.fixedDelayMs : this.adaptive.current(this.clock.now()),
      hedges: this.hedges,
      hedgesWon: this.hedgesWon,
      hedgesDenied: this.hedgesDenied,
    };
  }

  // The members below serve HedgedExecution, which needs the protected machinery; the class is private.

  /** Whether anyone listens, so events are built only then. */
  get listened(): boolean {
    return this.events.active;
  }

  emit(event: HedgingEvent): void {
    this.events.emit(event);
  }

  now(): number {
    return this.clock.now();
  }

  succeeded(start: number): void {
    this.recordSuccess(start);
  }

  failed(start: number, error: unknown): void {
    this.recordFailure(start, error);
  }

  /** Calls `e.onDue` once `deadline` has passed (unless unscheduled first). */
  schedule(e: Scheduled, deadline: number, now: number): void {
    e.deadline = deadline;
    e.linked = true;
    // Deadlines mostly arrive in order (always, with a fixed delay): search from the tail.
    let before = this.tail;
    while (before !== undefined && before.deadline > deadline) before = before.prev;
    e.prev = before;
    e.next = before === undefined ? this.head : before.next;
    if (e.prev === undefined) this.head = e;
    else e.prev.next = e;
    if (e.next === undefined) this.tail = e;
    else e.next.prev = e;
    if (this.firing) return;
    if (this.timer === undefined) this.arm(deadline, now);
    else if (deadline < this.timerAt) {
      this.clock.clearTimeout(this.timer);
      this.arm(deadline, now);
    }
  }

  unschedule(e: Scheduled): void {
    if (!e.linked) return;
    e.linked = false;
    if (e.prev === undefined) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = undefined;
  }

  /** Arms the single timer. It is not cleared when the list empties: re-arming would cost more. */
  private arm(deadline: number, now: number): void {
    this.timerAt = deadline;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, deadline - now), true);
  }

  private readonly fire = (): void => {
    const now = this.clock.now();
    // `firing` keeps the hedges started below from arming timers of their own: one is armed after.
    this.firing = true;
    try {
      for (let e = this.head; e !== undefined && e.deadline <= now; e = this.head) {
        this.unschedule(e);
        e.onDue(now);
      }
    } finally {
      this.firing = false;
      this.timer = undefined;
      if (this.head !== undefined) this.arm(this.head.deadline, now);
    }
  };
}

/** The state of one hedged execution: its running attempts, and how it ends. */
class HedgedExecution<T> implements Scheduled {
  deadline: number;
  prev: Scheduled | undefined;
  next: Scheduled | undefined;
  linked: boolean;
  /** Child scope of each attempt (index = attempt - 1) while it runs; `undefined` once it has settled. */
  private readonly scopes: (Scope | undefined)[];
  private started: number;
  private running: number;
  private settled: boolean;
  private denied: boolean;
  private callerSubscription: Disposable | undefined;

  constructor(
    private readonly policy: Hedging,
    private readonly fn: Work<T>,
    private readonly scope: Scope,
    private readonly chain: readonly Runnable[] | undefined,
    private readonly index: number,
    private readonly start: number,
    private readonly delayMs: number,
    private readonly resolve: (value: T) => void,
    private readonly reject: (reason: unknown) => void,
  ) {
    this.deadline = 0;
    this.prev = undefined;
    this.next = undefined;
    this.linked = false;
    this.scopes = [];
    this.started = 0;
    this.running = 0;
    this.settled = false;
    this.denied = false;
    this.callerSubscription = undefined;
  }

  begin(now: number): void {
    if (this.scope.cancellable) this.callerSubscription = this.scope.onAbort(this.onCallerAbort);
    this.launch(0, now);
  }

  onDue(now: number): void {
    if (!this.settled) this.hedge(this.delayMs, now);
  }

  /** Starts attempt number `started + 1` at `now`, and schedules the one after it. */
  private launch(delayMs: number, now: number): void {
    const attempt = ++this.started;
    const child = this.scope.child();
    this.scopes.push(child);
    this.running++;
    if (attempt > 1) {
      this.policy.hedges++;
      if (this.policy.listened)
        this.policy.emit({ type: 'hedge', policy: this.policy.name, attempt, delayMs });
    }
    proceed(this.fn, child.withAttempt(attempt), this.chain, this.index).then(
      (value) => this.onSuccess(attempt, now, value),
      (error: unknown) => this.onFailure(attempt, error),
    );
    if (this.started <= this.policy.maxHedgedAttempts && !this.denied)
      this.policy.schedule(this, now + this.delayMs, now);
  }

  /** Starts another attempt if the budget allows; false when it does not. */
  private hedge(delayMs: number, now: number): boolean {
    if (this.policy.budget !== undefined && !this.policy.budget.tryWithdraw()) {
      this.denied = true;
      this.policy.hedgesDenied++;
      return false;
    }
    this.launch(delayMs, now);
    return true;
  }

  private readonly onCallerAbort = (reason: unknown): void => {
    if (this.settled) return;
    this.finish(reason);
    this.policy.failed(this.start, reason);
    this.reject(reason);
  };

  private onSuccess(attempt: number, attemptStart: number, value: T): void {
    this.scopes[attempt - 1]?.dispose();
    this.scopes[attempt - 1] = undefined;
    if (this.settled) return;
    const adaptive = this.policy.adaptive;
    if (adaptive !== undefined) {
      const now = this.policy.now();
      adaptive.record(now - attemptStart, now);
    }
    this.finish(this.running > 1 ? lostTo(attempt) : undefined);
    this.policy.succeeded(this.start);
    if (attempt > 1) {
      this.policy.hedgesWon++;
      if (this.policy.listened) this.policy.emit({ type: 'hedge-won', policy: this.policy.name, attempt });
    }
    this.resolve(value);
  }

  private onFailure(attempt: number, error: unknown): void {
    this.scopes[attempt - 1]?.dispose();
    this.scopes[attempt - 1] = undefined;
    if (this.settled) return;
    this.running--;
    let handled: boolean;
    try {
      handled = !this.scope.aborted && this.policy.handle(error);
    } catch (filterError) {
      // A throwing filter must still settle the execution; its error is the more useful one.
      error = filterError;
      handled = false;
    }
    if (!handled) {
      this.fail(error, this.running > 0 ? endedBy(attempt) : undefined);
      return;
    }
    if (this.started <= this.policy.maxHedgedAttempts && !this.denied) {
      // Polly's behaviour: a failed attempt is a reason to hedge now rather than at the delay.
      this.policy.unschedule(this);
      if (this.hedge(0, this.policy.now())) return;
    }
    if (this.running === 0) this.fail(error, undefined);
  }

  private fail(error: unknown, abortReason: unknown): void {
    this.finish(abortReason);
    this.policy.failed(this.start, error);
    this.reject(error);
  }

  /** Ends the execution: unschedules it, drops the caller subscription, aborts attempts still running. */
  private finish(abortReason: unknown): void {
    this.settled = true;
    this.policy.unschedule(this);
    this.callerSubscription?.dispose();
    for (let i = 0; i < this.scopes.length; i++) {
      const s = this.scopes[i];
      if (s === undefined) continue;
      // Abort explicitly even on a caller abort: disposing first would detach the child from
      // the caller's signal before the abort had reached it.
      s.abort(abortReason);
      s.dispose();
      this.scopes[i] = undefined;
    }
  }
}

/** The abort reason of attempts that lost the race. */
function lostTo(winner: number): Error {
  return new Error(`hedging: attempt cancelled because attempt ${winner} succeeded first`);
}

/** The abort reason of attempts cut short by another attempt's unhandled error. */
function endedBy(attempt: number): Error {
  return new Error(`hedging: attempt cancelled because attempt ${attempt} failed with an unhandled error`);
}
