import type { RandomSource } from './clock.js';
import type { PolicyContext, Scope, Work } from './context.js';
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

/** The error a fault-injection policy throws by default. `retryable`, like the transient faults it imitates. */
export class InjectedFaultError extends FlotillaError {
  override readonly name = 'InjectedFaultError';
  readonly retryable = true;

  constructor(options?: FlotillaErrorOptions) {
    super('INJECTED_FAULT', 'injected fault', options);
  }
}

/** True when `err` is an {@link InjectedFaultError} (from any copy of this package). */
export function isInjectedFaultError(err: unknown): err is InjectedFaultError {
  return hasFlotillaCode(err, 'INJECTED_FAULT');
}

/** Injected delay before the work runs. */
export interface LatencyInjection {
  /** Share of calls delayed, in [0, 1]. */
  readonly rate: number;
  /** The delay in milliseconds (>= 0), or a function of the call's context returning it. */
  readonly delayMs: number | ((context: PolicyContext) => number);
}

/** Injected error instead of running the work. */
export interface FaultInjection {
  /** Share of calls failed, in [0, 1]. */
  readonly rate: number;
  /**
   * Creates the error to throw.
   * @default () => new InjectedFaultError()
   */
  readonly error?: () => unknown;
}

/** Injected result instead of running the work. */
export interface OutcomeInjection<R> {
  /** Share of calls whose result is replaced, in [0, 1]. */
  readonly rate: number;
  /** Creates the replacement result (it may be a promise). */
  readonly value: () => R | PromiseLike<R>;
}

/** What a fault-injection policy injects; each kind is drawn on its own. */
export interface FaultInjectionSettings<R> {
  /**
   * Whether anything is injected. A disabled policy only passes calls through.
   * @default true
   */
  readonly enabled?: boolean;
  /** Delay some calls. */
  readonly latency?: LatencyInjection;
  /** Fail some calls without running the work. */
  readonly fault?: FaultInjection;
  /** Return a made-up result for some calls without running the work. */
  readonly outcome?: OutcomeInjection<R>;
}

/** Options of {@link faultInjection}. */
export interface FaultInjectionOptions<R = never> extends FaultInjectionSettings<R>, PolicyOptions {
  /**
   * Source of the draws deciding each injection; pass a seeded one for reproducible runs.
   * @default Math.random
   */
  random?: RandomSource;
}

/**
 * A run-time change to a fault-injection policy. A kind given as an object is merged into the
 * current settings of that kind (`{ fault: { rate: 0.2 } }` keeps its error factory); a kind
 * given as `undefined` stops injecting it.
 */
export interface FaultInjectionUpdate<R> {
  /** See {@link FaultInjectionSettings.enabled}. */
  readonly enabled?: boolean;
  /** Changes or (with `undefined`) removes the latency injection. */
  readonly latency?: Partial<LatencyInjection> | undefined;
  /** Changes or (with `undefined`) removes the fault injection. */
  readonly fault?: Partial<FaultInjection> | undefined;
  /** Changes or (with `undefined`) removes the outcome injection. */
  readonly outcome?: Partial<OutcomeInjection<R>> | undefined;
}

/** The kinds of injection. */
export type InjectionKind = 'latency' | 'fault' | 'outcome';

/** Events of a fault-injection policy. */
export type FaultInjectionEvent =
  | OutcomeEvent
  | {
      /** A call was delayed, failed or given a made-up result on purpose. */
      readonly type: 'fault-injected';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** What was injected. */
      readonly kind: InjectionKind;
    };

/** A chaos policy, switchable at run time. `R` is the type of the injected outcome. */
export interface FaultInjectionPolicy<R = never> extends Policy<FaultInjectionEvent, R> {
  /** Always `'fault-injection'`. */
  readonly kind: 'fault-injection';
  /** Whether the policy injects anything now. */
  readonly enabled: boolean;
  /** The current settings. */
  readonly options: FaultInjectionSettings<R>;
  /** Starts injecting. */
  enable(): void;
  /** Stops injecting: calls pass straight through. */
  disable(): void;
  /** Changes settings at run time; validated as a whole before anything changes. */
  update(changes: FaultInjectionUpdate<R>): void;
}

/**
 * Chaos engineering, after Polly's chaos strategies: delays some calls, fails some, and replaces
 * the result of some, each at its own rate. Per call, latency is drawn first (and waited out,
 * abortably), then a fault, then an outcome; a fault or outcome skips the work. Switch it at run
 * time with `enable()`, `disable()` and `update()`; while disabled it costs one boolean check,
 * and counts nothing.
 *
 * @example
 * const chaos = faultInjection({ latency: { rate: 0.1, delayMs: 300 }, fault: { rate: 0.05 }, enabled: false });
 * chaos.enable(); // during a game day
 * const stock = await chaos.execute(() => ({ sku: 'A-1', available: 3 }));
 */
export function faultInjection<R = never>(options: FaultInjectionOptions<R>): FaultInjectionPolicy<R> {
  return new FaultInjector(options);
}

class FaultInjector<R> extends PolicyBase<FaultInjectionEvent, R> implements FaultInjectionPolicy<R> {
  readonly kind = 'fault-injection' as const;
  private on: boolean;
  private settings: FaultInjectionSettings<R>;
  private readonly random: RandomSource;
  private readonly injected: Record<InjectionKind, number>;
  /** Pre-bound completion handlers of the untimed path: no closure per call. */
  private readonly onOk: () => void;
  private readonly onError: (error: unknown) => void;

  constructor(options: FaultInjectionOptions<R>) {
    super('fault-injection', options);
    const { random = Math.random, enabled = true, latency, fault, outcome } = options;
    if (typeof random !== 'function')
      throw new TypeError(`faultInjection.random must be a function, got ${typeof random}`);
    this.settings = validate({ enabled, latency, fault, outcome });
    this.on = enabled;
    this.random = random;
    this.injected = { latency: 0, fault: 0, outcome: 0 };
    this.onOk = () => this.metrics.success();
    this.onError = (error) => this.recordFailure(-1, error);
  }

  get enabled(): boolean {
    return this.on;
  }

  get options(): FaultInjectionSettings<R> {
    return this.settings;
  }

  enable(): void {
    this.update({ enabled: true });
  }

  disable(): void {
    this.update({ enabled: false });
  }

  update(changes: FaultInjectionUpdate<R>): void {
    const next: LooseSettings = { ...this.settings };
    if (changes.enabled !== undefined) next.enabled = changes.enabled;
    for (const kind of ['latency', 'fault', 'outcome'] as const) {
      if (!(kind in changes)) continue;
      const change = changes[kind];
      next[kind] = change === undefined ? undefined : { ...this.settings[kind], ...change };
    }
    this.settings = validate(next as FaultInjectionSettings<R>);
    this.on = this.settings.enabled !== false;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T | R> {
    if (!this.on) return proceed(fn, scope, chain, index);
    this.metrics.call();
    const start = this.timed() ? this.clock.now() : -1;
    const settings = this.settings;
    const latency = settings.latency;
    if (latency !== undefined && this.random() < latency.rate) {
      return this.delay(latency, scope).then(
        () => this.inject(settings, start, fn, scope, chain, index),
        (error: unknown) => {
          // A caller who gave up during the delay is not a failure; a broken delay function is.
          if (!scope.aborted) this.recordFailure(start, error);
          throw error;
        },
      );
    }
    return this.inject(settings, start, fn, scope, chain, index);
  }

  /** Draws a fault, then an outcome; runs the work when neither is injected. */
  private inject<T>(
    settings: FaultInjectionSettings<R>,
    start: number,
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T | R> {
    let work: Promise<T | R>;
    try {
      const { fault, outcome } = settings;
      if (fault !== undefined && this.random() < fault.rate) {
        this.count('fault');
        work = Promise.reject(fault.error === undefined ? new InjectedFaultError() : fault.error());
      } else if (outcome !== undefined && this.random() < outcome.rate) {
        this.count('outcome');
        work = Promise.resolve(outcome.value());
      } else {
        work = proceed(fn, scope, chain, index);
      }
    } catch (err) {
      work = Promise.reject(err);
    }
    // Outcomes are counted by a side reaction and the work's own promise is returned: the caller
    // resumes a microtask turn sooner than through a derived promise (see bulkhead.ts).
    if (start < 0) void work.then(this.onOk, this.onError);
    else
      void work.then(
        () => this.recordSuccess(start),
        (error: unknown) => this.recordFailure(start, error),
      );
    return work;
  }

  /** Waits out an injected delay; rejects at once with the caller's reason when it aborts. */
  private delay(latency: LatencyInjection, scope: Scope): Promise<void> {
    let delayMs: number;
    try {
      delayMs = typeof latency.delayMs === 'function' ? latency.delayMs(scope) : latency.delayMs;
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof delayMs !== 'number' || !(delayMs >= 0) || !Number.isFinite(delayMs))
      return Promise.reject(
        new RangeError(
          `faultInjection.latency.delayMs() must return a finite number >= 0, got ${String(delayMs)}`,
        ),
      );
    this.count('latency');
    if (scope.aborted) return Promise.reject(scope.reason);
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        abort?.dispose();
        resolve();
      }, delayMs);
      const abort = scope.cancellable
        ? scope.onAbort((reason) => {
            this.clock.clearTimeout(timer);
            reject(reason);
          })
        : undefined;
    });
  }

  private count(kind: InjectionKind): void {
    this.injected[kind]++;
    if (this.events.active) this.events.emit({ type: 'fault-injected', policy: this.name, kind });
  }

  protected override snapshotState(): string {
    return this.on ? 'enabled' : 'disabled';
  }

  protected override details() {
    return {
      enabled: this.on,
      latencyInjected: this.injected.latency,
      faultsInjected: this.injected.fault,
      outcomesInjected: this.injected.outcome,
    };
  }
}

/** Settings as they are assembled, before validation: any kind may be missing or partial. */
type LooseSettings = { -readonly [K in keyof FaultInjectionSettings<unknown>]?: unknown };

/** Checks every setting and returns a frozen copy, so `options` cannot be changed behind the policy's back. */
function validate<R>(
  s: {
    readonly [K in keyof FaultInjectionSettings<R>]?: FaultInjectionSettings<R>[K] | undefined;
  },
): FaultInjectionSettings<R> {
  if (s.enabled !== undefined && typeof s.enabled !== 'boolean')
    throw new TypeError(`faultInjection.enabled must be a boolean, got ${String(s.enabled)}`);
  const { latency, fault, outcome } = s;
  if (latency !== undefined) {
    checkRate('latency', latency.rate);
    const d = latency.delayMs;
    if (typeof d !== 'function' && (typeof d !== 'number' || !(d >= 0) || !Number.isFinite(d)))
      throw new RangeError(
        `faultInjection.latency.delayMs must be a finite number >= 0 or a function, got ${String(d)}`,
      );
  }
  if (fault !== undefined) {
    checkRate('fault', fault.rate);
    if (fault.error !== undefined && typeof fault.error !== 'function')
      throw new TypeError(`faultInjection.fault.error must be a function, got ${typeof fault.error}`);
  }
  if (outcome !== undefined) {
    checkRate('outcome', outcome.rate);
    if (typeof outcome.value !== 'function')
      throw new TypeError(`faultInjection.outcome.value must be a function, got ${typeof outcome.value}`);
  }
  return Object.freeze({
    enabled: s.enabled !== false,
    ...(latency === undefined ? {} : { latency: Object.freeze({ ...latency }) }),
    ...(fault === undefined ? {} : { fault: Object.freeze({ ...fault }) }),
    ...(outcome === undefined ? {} : { outcome: Object.freeze({ ...outcome }) }),
  });
}

function checkRate(kind: InjectionKind, rate: unknown): void {
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))
    throw new RangeError(`faultInjection.${kind}.rate must be a number in [0, 1], got ${String(rate)}`);
}
