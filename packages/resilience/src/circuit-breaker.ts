import {
  type BreakerStrategy,
  checkInteger,
  expectRecord,
  show,
  type TripReason,
} from './breaker-strategy.js';
import type {
  CircuitBreakEvent,
  CircuitBreakerEvent,
  CircuitHalfOpenEvent,
  CircuitResetEvent,
  CircuitStateChangeEvent,
  CircuitTransitionReason,
} from './circuit-breaker-events.js';
import {
  BrokenCircuitError,
  CircuitBreakerMode,
  type CircuitBreakerState,
  CircuitState,
  IsolatedCircuitError,
} from './circuit-state.js';
import type { TimerHandle } from './clock.js';
import { consecutiveBreaker } from './consecutive-breaker.js';
import type { Scope, Work } from './context.js';
import type { Disposable, Listener } from './disposable.js';
import { type ErrorFilter, handleAll, type ResultFilter } from './handlers.js';
import { type Policy, PolicyBase, type PolicyOptions, proceed, RUN, type Runnable } from './policy.js';

export type {
  CircuitBreakEvent,
  CircuitBreakerEvent,
  CircuitHalfOpenEvent,
  CircuitRejectionEvent,
  CircuitResetEvent,
  CircuitStateChangeEvent,
  CircuitTransitionReason,
} from './circuit-breaker-events.js';
export {
  BrokenCircuitError,
  CircuitBreakerMode,
  type CircuitBreakerState,
  CircuitState,
  IsolatedCircuitError,
  isBrokenCircuitError,
  isIsolatedCircuitError,
} from './circuit-state.js';

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions extends PolicyOptions {
  /**
   * Decides when the closed circuit opens. A strategy is stateful: give each breaker its own.
   * @default consecutiveBreaker(5)
   */
  breaker?: BreakerStrategy;
  /**
   * How long the circuit stays open before a probe may pass, in milliseconds.
   * @default 10000
   */
  halfOpenAfterMs?: number;
  /**
   * The longest break, in milliseconds, when failed probes lengthen it (see `halfOpenAfterMultiplier`).
   * @default halfOpenAfterMs (breaks never grow)
   */
  halfOpenAfterMaxMs?: number;
  /**
   * Each failed probe multiplies the next break by this, up to `halfOpenAfterMaxMs`; closing
   * the circuit brings it back to `halfOpenAfterMs`.
   * @default 2
   */
  halfOpenAfterMultiplier?: number;
  /**
   * Probe calls allowed at once while half-open; calls beyond them are rejected. Put a timeout
   * inside the breaker: a probe that never settles holds its slot.
   * @default 1
   */
  halfOpenMaxProbes?: number;
  /**
   * Successful probes needed to close the circuit; any failed probe opens it again.
   * @default 1
   */
  halfOpenSuccesses?: number;
  /**
   * Which errors count as failures. Other errors pass through and count neither way. A call
   * whose caller aborted never counts.
   * @default handleAll
   */
  handle?: ErrorFilter;
  /**
   * Which returned values count as failures (a 503 response). The value is still returned.
   * @default undefined (no value is a failure)
   */
  handleResult?: ResultFilter;
  /**
   * See {@link CircuitBreakerMode}; change it later with `setMode`.
   * @default 'normal'
   */
  mode?: CircuitBreakerMode;
  /**
   * A state from `exportState()` to start in. It is validated; a bad field throws a `TypeError`
   * naming it. A remaining break longer than this breaker's break is shortened to it.
   * @default undefined (starts closed)
   */
  initialState?: CircuitBreakerState;
}

/** A circuit breaker policy. */
export interface CircuitBreakerPolicy extends Policy<CircuitBreakerEvent> {
  /** Always `'circuit-breaker'`. */
  readonly kind: 'circuit-breaker';
  /** The circuit's current state. */
  readonly state: CircuitState;
  /** The current mode (see {@link CircuitBreakerMode}). */
  readonly mode: CircuitBreakerMode;
  /** Switches the mode; the state machine keeps its state. */
  setMode(mode: CircuitBreakerMode): void;
  /**
   * Holds the circuit open (state `'isolated'`) until every handle returned is disposed; then
   * it closes. `reset()` ends an isolation at once, and its handles then do nothing.
   */
  isolate(): Disposable;
  /** Closes the circuit and clears the strategy, whatever the state. */
  reset(): void;
  /** The state as JSON data, for `initialState` (see {@link CircuitBreakerState}). */
  exportState(): CircuitBreakerState;
  /** Called when the circuit opens or is isolated. */
  onBreak(listener: Listener<CircuitBreakEvent>): Disposable;
  /** Called when the circuit closes. */
  onReset(listener: Listener<CircuitResetEvent>): Disposable;
  /** Called when the circuit becomes half-open. */
  onHalfOpen(listener: Listener<CircuitHalfOpenEvent>): Disposable;
  /** Called on every state change. */
  onStateChange(listener: Listener<CircuitStateChangeEvent>): Disposable;
}

/**
 * Stops calling a failing dependency for a while, so it can recover and callers fail fast.
 * Closed, it runs calls and reports their outcomes to its strategy; when the strategy trips, it
 * opens and rejects calls with {@link BrokenCircuitError} for `halfOpenAfterMs`; then, half-open,
 * it admits `halfOpenMaxProbes` probe calls at a time and closes after `halfOpenSuccesses` of
 * them succeed, or opens again (for longer, up to `halfOpenAfterMaxMs`) when one fails.
 *
 * @example
 * const breaker = circuitBreaker({
 *   breaker: consecutiveBreaker(5),
 *   halfOpenAfterMs: 10_000,
 *   halfOpenAfterMaxMs: 120_000,
 * });
 * breaker.onBreak(({ reason }) => console.warn(`inventory circuit opened: ${reason}`));
 * const stock = await breaker.execute(({ signal }) => fetch('http://inventory/stock', { signal }));
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  return new CircuitBreaker(options);
}

/** Strategies already owned by a breaker: sharing one would mix two circuits' outcomes. */
const owned = new WeakSet<BreakerStrategy>();

const CLOSED = CircuitState.Closed;
const OPEN = CircuitState.Open;
const HALF_OPEN = CircuitState.HalfOpen;
const ISOLATED = CircuitState.Isolated;
const STATES: readonly string[] = Object.values(CircuitState);
const MODES: readonly string[] = Object.values(CircuitBreakerMode);

// What an admitted call is to the state machine.
/** Admitted closed: its outcome goes to the strategy if the circuit is still closed. */
const CLOSED_CALL = 0;
/** A half-open probe: its outcome closes or reopens the circuit. */
const PROBE = 1;
/** Passed without the state machine (disabled, or metrics-only past a rejection). */
const PASS = 2;
const REJECTED = 3;
type Role = typeof CLOSED_CALL | typeof PROBE | typeof PASS | typeof REJECTED;

// How an outcome counts.
const SUCCESS = 0;
const FAILURE = 1;
const IGNORED = 2;
type Verdict = typeof SUCCESS | typeof FAILURE | typeof IGNORED;

class CircuitBreaker extends PolicyBase<CircuitBreakerEvent> implements CircuitBreakerPolicy {
  readonly kind = 'circuit-breaker' as const;
  private readonly strategy: BreakerStrategy;
  private readonly handle: ErrorFilter;
  private readonly handleResult: ResultFilter | undefined;
  private readonly halfOpenAfterMs: number;
  private readonly halfOpenAfterMaxMs: number;
  private readonly halfOpenAfterMultiplier: number;
  private readonly halfOpenMaxProbes: number;
  private readonly halfOpenSuccesses: number;
  private readonly timesEveryCall: boolean;
  private currentMode: CircuitBreakerMode;
  private current: CircuitState;
  /** Closed and in normal mode: the one check of the fast path. */
  private fast: boolean;
  /** Closed and not disabled: outcomes of closed calls go to the strategy. */
  private counting: boolean;
  /** Bumped on every transition, so late outcomes of an earlier phase are recognised. */
  private epoch: number;
  private openUntil: number;
  private openCount: number;
  private openTimer: TimerHandle | undefined;
  private probes: number;
  private probeSuccesses: number;
  private isolations: number;
  private wouldReject: number;

  constructor(options: CircuitBreakerOptions) {
    super('circuit-breaker', options);
    const strategy = options.breaker ?? consecutiveBreaker(5);
    if (typeof strategy !== 'object' || strategy === null || typeof strategy.failure !== 'function')
      throw new TypeError(`circuitBreaker.breaker must be a BreakerStrategy, got ${show(strategy)}`);
    if (owned.has(strategy))
      throw new TypeError(
        'circuitBreaker.breaker already belongs to another circuit breaker; create a strategy per breaker',
      );
    this.strategy = strategy;
    this.halfOpenAfterMs = checkMs(options.halfOpenAfterMs ?? 10_000, 'halfOpenAfterMs', 0);
    this.halfOpenAfterMaxMs = checkMs(
      options.halfOpenAfterMaxMs ?? this.halfOpenAfterMs,
      'halfOpenAfterMaxMs',
      this.halfOpenAfterMs,
    );
    const multiplier = options.halfOpenAfterMultiplier ?? 2;
    if (typeof multiplier !== 'number' || !(multiplier >= 1) || !Number.isFinite(multiplier))
      throw new RangeError(
        `circuitBreaker.halfOpenAfterMultiplier must be a finite number >= 1, got ${show(multiplier)}`,
      );
    this.halfOpenAfterMultiplier = multiplier;
    this.halfOpenMaxProbes = checkInteger(
      options.halfOpenMaxProbes ?? 1,
      'circuitBreaker.halfOpenMaxProbes',
      1,
    );
    this.halfOpenSuccesses = checkInteger(
      options.halfOpenSuccesses ?? 1,
      'circuitBreaker.halfOpenSuccesses',
      1,
    );
    this.handle = options.handle ?? handleAll;
    if (typeof this.handle !== 'function')
      throw new TypeError(`circuitBreaker.handle must be a function, got ${show(this.handle)}`);
    this.handleResult = options.handleResult;
    if (this.handleResult !== undefined && typeof this.handleResult !== 'function')
      throw new TypeError(`circuitBreaker.handleResult must be a function, got ${show(this.handleResult)}`);
    this.currentMode = checkMode(options.mode ?? 'normal', 'circuitBreaker.mode');
    this.timesEveryCall = strategy.needsDurations;
    this.current = CLOSED;
    this.fast = false;
    this.counting = false;
    this.epoch = 0;
    this.openUntil = 0;
    this.openCount = 0;
    this.openTimer = undefined;
    this.probes = 0;
    this.probeSuccesses = 0;
    this.isolations = 0;
    this.wouldReject = 0;
    strategy.attach(this.clock);
    if (options.initialState !== undefined) this.restore(options.initialState);
    this.refresh();
    owned.add(strategy);
  }

  get state(): CircuitState {
    return this.current;
  }

  get mode(): CircuitBreakerMode {
    return this.currentMode;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T> {
    this.metrics.call();
    if (!this.fast) return this.admit(fn, scope, chain, index);
    if (this.timesEveryCall || this.timed()) {
      if (scope.aborted) return Promise.reject(scope.reason);
      const start = this.clock.now();
      return this.track(proceed(fn, scope, chain, index), scope, start, CLOSED_CALL);
    }
    if (!scope.cancellable) return proceed(fn, scope, chain, index).then(this.onOk, this.onErr) as Promise<T>;
    // A caller that can abort (a timeout above, a request signal): only its failures need the scope.
    if (scope.aborted) return Promise.reject(scope.reason);
    return proceed(fn, scope, chain, index).then(this.onOk, (error: unknown) => {
      this.settle(CLOSED_CALL, 0, scope, -1, false, error);
      throw error;
    }) as Promise<T>;
  }

  /** Recomputes the fast-path flags after a change of state or mode. */
  private refresh(): void {
    this.fast = this.current === CLOSED && this.currentMode === 'normal';
    this.counting = this.current === CLOSED && this.currentMode !== 'disabled';
  }

  /** The closed-state success path of an untimed call nobody can abort: no allocation. */
  private readonly onOk = (value: unknown): unknown => {
    if (this.handleResult !== undefined) {
      this.settle(CLOSED_CALL, 0, undefined, -1, true, value);
      return value;
    }
    this.metrics.success();
    if (this.counting) {
      const trip = this.strategy.success();
      if (trip !== undefined) this.open(trip, false, undefined);
    }
    return value;
  };

  private readonly onErr = (error: unknown): never => {
    this.settle(CLOSED_CALL, 0, undefined, -1, false, error);
    throw error;
  };

  /** Every call that is not a plain closed-state call: other states, other modes, abortable callers. */
  private admit<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    const mode = this.currentMode;
    if (mode === 'forced-open')
      return this.reject(new BrokenCircuitError(this.halfOpenAfterMs), this.clock.now());
    let role: Role = PASS;
    if (mode !== 'disabled') {
      // Only the open state needs the time to decide; the same reading serves its rejection.
      const now = this.current === OPEN ? this.clock.now() : -1;
      role = this.admission(now);
      if (role === REJECTED) {
        if (mode === 'normal') return this.reject(this.rejection(now), now < 0 ? this.clock.now() : now);
        this.wouldReject++;
        role = PASS;
      }
    }
    const start = this.timesEveryCall || this.timed() ? this.clock.now() : -1;
    return this.track(proceed(fn, scope, chain, index), scope, start, role);
  }

  /** Decides what a call is in the current state (`now` is read when open); takes a probe slot for a probe. */
  private admission(now: number): Role {
    switch (this.current) {
      case CLOSED:
        return CLOSED_CALL;
      case OPEN:
        // The timer normally moves the circuit on; this covers a call that arrives first.
        if (now < this.openUntil) return REJECTED;
        this.toHalfOpen();
        return this.admission(now);
      case HALF_OPEN:
        if (this.probes >= this.halfOpenMaxProbes) return REJECTED;
        this.probes++;
        return PROBE;
      case ISOLATED:
        return REJECTED;
      default:
        return this.current satisfies never;
    }
  }

  private rejection(now: number): Error {
    if (this.current === ISOLATED) return new IsolatedCircuitError();
    return new BrokenCircuitError(this.current === OPEN ? Math.max(0, this.openUntil - now) : 0);
  }

  private reject<T>(error: Error, now: number): Promise<T> {
    this.metrics.rejection(now);
    if (this.events.active)
      this.events.emit({ type: 'rejection', policy: this.name, state: this.current, mode: this.currentMode });
    return Promise.reject(error);
  }

  private track<T>(work: Promise<T>, scope: Scope, start: number, role: Role): Promise<T> {
    const epoch = this.epoch;
    return work.then(
      (value) => {
        this.settle(role, epoch, scope, start, true, value);
        return value;
      },
      (error: unknown) => {
        this.settle(role, epoch, scope, start, false, error);
        throw error;
      },
    );
  }

  /** Records an outcome in the metrics, then lets it drive the state machine according to `role`. */
  private settle(
    role: Role,
    epoch: number,
    scope: Scope | undefined,
    start: number,
    ok: boolean,
    outcome: unknown,
  ): void {
    let verdict: Verdict;
    let durationMs: number | undefined;
    if (ok && (this.handleResult === undefined || !this.handleResult(outcome))) {
      verdict = SUCCESS;
      if (start < 0) this.metrics.success();
      else {
        const now = this.clock.now();
        durationMs = now - start;
        this.metrics.successTimed(durationMs, now);
        if (this.events.active) this.events.emit({ type: 'success', policy: this.name, durationMs });
      }
    } else {
      const now = this.clock.now();
      if (start >= 0) durationMs = now - start;
      this.metrics.failure(now, durationMs);
      if (this.events.active)
        this.events.emit({ type: 'failure', policy: this.name, durationMs: durationMs ?? 0, error: outcome });
      // A caller that gave up says nothing about the dependency's health.
      verdict = scope?.aborted === true ? IGNORED : ok || this.handle(outcome) ? FAILURE : IGNORED;
    }
    if (verdict === IGNORED || this.currentMode === 'disabled') {
      if (role === PROBE && epoch === this.epoch) this.probes--;
      return;
    }
    if (role === CLOSED_CALL) {
      if (!this.counting) return;
      const trip =
        verdict === SUCCESS ? this.strategy.success(durationMs) : this.strategy.failure(durationMs);
      if (trip !== undefined) this.open(trip, verdict === FAILURE, outcome);
    } else if (role === PROBE && epoch === this.epoch) {
      this.probes--;
      if (verdict === FAILURE) this.open('probe-failed', true, outcome);
      else if (++this.probeSuccesses >= this.halfOpenSuccesses) this.close('probes-succeeded');
    }
  }

  /** The length of the `n`th break since the circuit last closed, in milliseconds. */
  private breakMs(n: number): number {
    return Math.min(this.halfOpenAfterMaxMs, this.halfOpenAfterMs * this.halfOpenAfterMultiplier ** (n - 1));
  }

  private open(reason: TripReason | 'probe-failed', failed: boolean, error: unknown): void {
    this.openCount = this.current === HALF_OPEN ? this.openCount + 1 : 1;
    this.startBreak(this.breakMs(this.openCount));
    this.transition(OPEN, reason);
    if (this.events.active)
      this.events.emit(
        failed
          ? { type: 'break', policy: this.name, reason, error }
          : { type: 'break', policy: this.name, reason },
      );
  }

  private startBreak(durationMs: number): void {
    if (this.openTimer !== undefined) this.clock.clearTimeout(this.openTimer);
    this.openUntil = this.clock.now() + durationMs;
    this.openTimer = this.clock.setTimeout(this.onBreakElapsed, durationMs, true);
  }

  private readonly onBreakElapsed = (): void => {
    this.openTimer = undefined;
    if (this.current === OPEN) this.toHalfOpen();
  };

  private toHalfOpen(): void {
    this.probes = 0;
    this.probeSuccesses = 0;
    this.strategy.halfOpen();
    this.transition(HALF_OPEN, 'open-elapsed');
    if (this.events.active) this.events.emit({ type: 'half-open', policy: this.name });
  }

  private close(reason: CircuitTransitionReason): void {
    this.strategy.reset();
    this.openCount = 0;
    this.isolations = 0;
    this.probes = 0;
    this.probeSuccesses = 0;
    this.transition(CLOSED, reason);
    if (this.events.active) this.events.emit({ type: 'reset', policy: this.name });
  }

  private transition(to: CircuitState, reason: CircuitTransitionReason): void {
    const from = this.current;
    this.current = to;
    this.refresh();
    this.epoch++;
    if (to !== OPEN && this.openTimer !== undefined) {
      this.clock.clearTimeout(this.openTimer);
      this.openTimer = undefined;
    }
    if (this.events.active) this.events.emit({ type: 'state-change', policy: this.name, from, to, reason });
  }

  setMode(mode: CircuitBreakerMode): void {
    this.currentMode = checkMode(mode, 'circuitBreaker.setMode(mode)');
    this.refresh();
  }

  isolate(): Disposable {
    if (this.current !== ISOLATED) {
      this.isolations = 0;
      this.transition(ISOLATED, 'isolated');
      if (this.events.active) this.events.emit({ type: 'break', policy: this.name, reason: 'isolated' });
    }
    this.isolations++;
    const epoch = this.epoch;
    let released = false;
    return {
      dispose: () => {
        if (released) return;
        released = true;
        if (this.epoch === epoch && --this.isolations === 0) this.close('isolation-released');
      },
    };
  }

  reset(): void {
    if (this.current === CLOSED) this.strategy.reset();
    else this.close('reset');
  }

  exportState(): CircuitBreakerState {
    const strategy = this.strategy.exportState();
    if (this.current === OPEN)
      return {
        version: 1,
        state: OPEN,
        openRemainingMs: Math.max(0, this.openUntil - this.clock.now()),
        openCount: this.openCount,
        strategy,
      };
    if (this.current === HALF_OPEN)
      return { version: 1, state: HALF_OPEN, openCount: this.openCount, strategy };
    return { version: 1, state: this.current, strategy };
  }

  /** Validates and applies an exported state (constructor only: no events, nobody listens yet). */
  private restore(initial: unknown): void {
    const field = 'circuitBreaker.initialState';
    const s = expectRecord(initial, field);
    if (s.version !== 1) throw new TypeError(`${field}.version must be 1, got ${show(s.version)}`);
    const state = s.state;
    if (typeof state !== 'string' || !STATES.includes(state))
      throw new TypeError(
        `${field}.state must be one of ${STATES.map((x) => `'${x}'`).join(', ')}, got ${show(state)}`,
      );
    const breaking = state === OPEN || state === HALF_OPEN;
    const { openCount, openRemainingMs } = s;
    if (breaking || openCount !== undefined) {
      const min = breaking ? 1 : 0;
      if (typeof openCount !== 'number' || !Number.isInteger(openCount) || openCount < min)
        throw new TypeError(
          `${field}.openCount must be an integer >= ${min}${breaking ? ` when state is '${state}'` : ''}, got ${show(openCount)}`,
        );
    }
    if (state === OPEN || openRemainingMs !== undefined) {
      if (typeof openRemainingMs !== 'number' || !(openRemainingMs >= 0) || !Number.isFinite(openRemainingMs))
        throw new TypeError(
          `${field}.openRemainingMs must be a finite number >= 0${state === OPEN ? " when state is 'open'" : ''}, got ${show(openRemainingMs)}`,
        );
    }
    this.strategy.restoreState(s.strategy, `${field}.strategy`);
    this.current = state as CircuitState;
    if (breaking) this.openCount = openCount as number;
    if (state === OPEN) this.startBreak(Math.min(openRemainingMs as number, this.breakMs(this.openCount)));
  }

  onBreak(listener: Listener<CircuitBreakEvent>): Disposable {
    return this.events.on((e) => e.type === 'break' && listener(e));
  }

  onReset(listener: Listener<CircuitResetEvent>): Disposable {
    return this.events.on((e) => e.type === 'reset' && listener(e));
  }

  onHalfOpen(listener: Listener<CircuitHalfOpenEvent>): Disposable {
    return this.events.on((e) => e.type === 'half-open' && listener(e));
  }

  onStateChange(listener: Listener<CircuitStateChangeEvent>): Disposable {
    return this.events.on((e) => e.type === 'state-change' && listener(e));
  }

  protected override snapshotState(): string {
    return this.current;
  }

  protected override details() {
    return {
      mode: this.currentMode,
      strategy: this.strategy.kind,
      retryAfterMs: this.current === OPEN ? Math.max(0, this.openUntil - this.clock.now()) : 0,
      openCount: this.openCount,
      probes: this.probes,
      isolations: this.isolations,
      wouldReject: this.wouldReject,
    };
  }
}

function checkMs(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !(value >= min) || !Number.isFinite(value))
    throw new RangeError(`circuitBreaker.${name} must be a finite number >= ${min}, got ${show(value)}`);
  return value;
}

function checkMode(mode: unknown, field: string): CircuitBreakerMode {
  if (typeof mode !== 'string' || !MODES.includes(mode))
    throw new RangeError(
      `${field} must be one of ${MODES.map((m) => `'${m}'`).join(', ')}, got ${show(mode)}`,
    );
  return mode as CircuitBreakerMode;
}
