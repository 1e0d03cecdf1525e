import { type Clock, type Disposable, type RandomSource, systemClock } from '@flotilla/resilience';

/**
 * How a call chooses among a service's instances:
 * - `round-robin`: each instance in turn;
 * - `least-outstanding`: of two instances drawn at random, the one with fewer calls in flight
 *   (Envoy's least-request, "power of two choices"): close to the best choice at the cost of a
 *   random draw, and without the herding a strict least-loaded choice causes.
 */
export type LoadBalancing = 'round-robin' | 'least-outstanding';

/** How a call went, as far as the health of the instance that served it goes. */
export type CallOutcome =
  /** The instance answered (any status below 500). */
  | 'success'
  /** Connection error, 5xx or timeout: counts towards ejection. */
  | 'failure'
  /** Says nothing about the instance (the caller gave up first). */
  | 'neutral';

/** Passive outlier detection settings (Envoy's consecutive-5xx detection). */
export interface OutlierDetectionOptions {
  /**
   * Consecutive failures (connection errors, 5xx, timeouts) that eject an instance.
   * @default 5
   */
  consecutiveFailures?: number;
  /**
   * Ejection time, in milliseconds, multiplied by the number of times the instance was ejected.
   * @default 30000
   */
  baseEjectionMs?: number;
  /**
   * The longest ejection, in milliseconds.
   * @default 300000
   */
  maxEjectionMs?: number;
  /**
   * Most instances ejected at once, as a percentage of all instances (rounded down), so a
   * fault that hits every instance cannot empty the service.
   * @default 50
   */
  maxEjectionPercent?: number;
}

/** Options of {@link loadBalancer}. */
export interface LoadBalancerOptions<T> {
  /**
   * See {@link LoadBalancing}.
   * @default 'least-outstanding'
   */
  strategy?: LoadBalancing;
  /**
   * Outlier detection settings, or `false` to never eject.
   * @default {} (every default of {@link OutlierDetectionOptions})
   */
  outlierDetection?: OutlierDetectionOptions | false;
  /**
   * Creates what a call needs to reach an instance (a connection pool), once per instance.
   * @default the URL itself
   */
  connect?: (url: string) => T;
  /** Releases what `connect` created, when the instance leaves the list or the balancer closes. */
  disconnect?: (value: T, url: string) => void;
  /**
   * Source of time for ejections; pass a `manualClock()` in tests. Read only while an instance
   * is ejected or being ejected.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Source of uniform numbers in [0, 1) for the random draws of `least-outstanding`.
   * @default Math.random
   */
  random?: RandomSource;
}

/** An instance handed out by {@link LoadBalancer.pick}. */
export interface Endpoint<T> {
  /** The instance's base URL. */
  readonly url: string;
  /** What `connect` created for it. */
  readonly value: T;
}

/** An instance as dashboards show it. */
export interface InstanceSnapshot {
  readonly url: string;
  /** Calls in flight. */
  readonly outstanding: number;
  readonly ejected: boolean;
  /** When the ejection ends, on the balancer's clock. */
  readonly ejectedUntilMs?: number;
  /** Consecutive failures counted so far. */
  readonly consecutiveFailures: number;
  /** Times ejected (decays by one per `baseEjectionMs` spent healthy). */
  readonly timesEjected: number;
}

/** An ejection or a return. */
export type OutlierEvent =
  | {
      readonly type: 'ejected';
      readonly url: string;
      /** How long the instance stays out, in milliseconds. */
      readonly durationMs: number;
      /** Times ejected, this one included. */
      readonly times: number;
    }
  | { readonly type: 'returned'; readonly url: string };

/** Chooses an instance per call and ejects the ones that keep failing. */
export interface LoadBalancer<T> {
  /** The number of known instances. */
  readonly size: number;
  /**
   * An instance for the next call, counted as outstanding until {@link release}d; `undefined`
   * when there is none. When every instance is ejected, all of them are candidates again
   * (Envoy's panic mode: a possibly bad instance beats none).
   */
  pick(): Endpoint<T> | undefined;
  /** Ends a call on `endpoint` and records how it went. Call it exactly once per `pick`. */
  release(endpoint: Endpoint<T>, outcome: CallOutcome): void;
  /** Replaces the instance list; instances that stay keep their state. */
  update(urls: readonly string[]): void;
  /** Every instance's state. */
  snapshot(): InstanceSnapshot[];
  /** Calls `listener` on every ejection and return. */
  onOutlier(listener: (event: OutlierEvent) => void): Disposable;
  /** Disconnects every instance. */
  close(): void;
}

/**
 * Client-side load balancing over the instances of one service, with passive outlier ejection:
 * an instance with `consecutiveFailures` failures in a row is left out for
 * `baseEjectionMs × times ejected` (at most `maxEjectionMs`), then returns by itself.
 *
 * @example
 * const lb = loadBalancer({ strategy: 'least-outstanding', connect: (url) => new Pool(url) });
 * lb.update(['http://127.0.0.1:7101', 'http://127.0.0.1:7102']);
 * const endpoint = lb.pick()!;
 * try { await endpoint.value.request({ path: '/x', method: 'GET' }); lb.release(endpoint, 'success'); }
 * catch { lb.release(endpoint, 'failure'); }
 */
export function loadBalancer<T = string>(options: LoadBalancerOptions<T> = {}): LoadBalancer<T> {
  return new Balancer(options);
}

class Instance<T> implements Endpoint<T> {
  outstanding = 0;
  consecutiveFailures = 0;
  /** 0 while not ejected. */
  ejectedUntil = 0;
  timesEjected = 0;
  /** When the last ejection ended, for the decay of `timesEjected`. */
  returnedAt = 0;
  removed = false;
  constructor(
    readonly url: string,
    readonly value: T,
  ) {}
}

interface Detection {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

class Balancer<T> implements LoadBalancer<T> {
  private instances: Instance<T>[] = [];
  private ejected = 0;
  private cursor = 0;
  private listeners: ((event: OutlierEvent) => void)[] = [];
  private readonly leastOutstanding: boolean;
  private readonly detection: Detection | undefined;
  private readonly connect: (url: string) => T;
  private readonly disconnect: ((value: T, url: string) => void) | undefined;
  private readonly clock: Clock;
  private readonly random: RandomSource;

  constructor(options: LoadBalancerOptions<T>) {
    const { strategy = 'least-outstanding', outlierDetection = {} } = options;
    if (strategy !== 'round-robin' && strategy !== 'least-outstanding')
      throw new RangeError(
        `loadBalancer.strategy must be 'round-robin' or 'least-outstanding', got ${JSON.stringify(strategy)}`,
      );
    this.leastOutstanding = strategy === 'least-outstanding';
    this.detection = outlierDetection === false ? undefined : checkDetection(outlierDetection);
    this.connect = options.connect ?? ((url) => url as T);
    this.disconnect = options.disconnect;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  get size(): number {
    return this.instances.length;
  }

  pick(): Endpoint<T> | undefined {
    let candidates = this.instances;
    if (this.ejected > 0) {
      this.returnDue();
      if (this.ejected > 0 && this.ejected < candidates.length)
        candidates = candidates.filter((i) => i.ejectedUntil === 0);
    }
    const n = candidates.length;
    if (n === 0) return undefined;
    let chosen: Instance<T>;
    if (n === 1) chosen = candidates[0] as Instance<T>;
    else if (this.leastOutstanding) {
      const a = Math.floor(this.random() * n);
      let b = Math.floor(this.random() * (n - 1));
      if (b >= a) b++;
      const first = candidates[a] as Instance<T>;
      const second = candidates[b] as Instance<T>;
      chosen = second.outstanding < first.outstanding ? second : first;
    } else {
      if (this.cursor >= n) this.cursor = 0;
      chosen = candidates[this.cursor++] as Instance<T>;
    }
    chosen.outstanding++;
    return chosen;
  }

  release(endpoint: Endpoint<T>, outcome: CallOutcome): void {
    const instance = endpoint as Instance<T>;
    instance.outstanding--;
    const detection = this.detection;
    if (detection === undefined || instance.removed) return;
    if (outcome === 'success') instance.consecutiveFailures = 0;
    else if (outcome === 'failure' && instance.ejectedUntil === 0) {
      if (++instance.consecutiveFailures >= detection.consecutiveFailures) this.eject(instance, detection);
    }
  }

  update(urls: readonly string[]): void {
    const current = new Map(this.instances.map((i) => [i.url, i]));
    const next: Instance<T>[] = [];
    for (const url of new Set(urls)) {
      const kept = current.get(url);
      if (kept !== undefined) {
        current.delete(url);
        next.push(kept);
      } else next.push(new Instance(url, this.connect(url)));
    }
    for (const gone of current.values()) this.remove(gone);
    this.instances = next;
  }

  snapshot(): InstanceSnapshot[] {
    if (this.ejected > 0) this.returnDue();
    return this.instances.map((i) => ({
      url: i.url,
      outstanding: i.outstanding,
      ejected: i.ejectedUntil !== 0,
      ...(i.ejectedUntil === 0 ? {} : { ejectedUntilMs: i.ejectedUntil }),
      consecutiveFailures: i.consecutiveFailures,
      timesEjected: i.timesEjected,
    }));
  }

  onOutlier(listener: (event: OutlierEvent) => void): Disposable {
    this.listeners = [...this.listeners, listener];
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  }

  close(): void {
    for (const instance of this.instances) this.remove(instance);
    this.instances = [];
  }

  private remove(instance: Instance<T>): void {
    instance.removed = true;
    if (instance.ejectedUntil !== 0) {
      instance.ejectedUntil = 0;
      this.ejected--;
    }
    this.disconnect?.(instance.value, instance.url);
  }

  private eject(instance: Instance<T>, detection: Detection): void {
    // Never below the floor: a fault shared by every instance must not empty the service.
    if (this.ejected + 1 > Math.floor((this.instances.length * detection.maxEjectionPercent) / 100)) return;
    const now = this.clock.now();
    if (instance.timesEjected > 0) {
      // Envoy lowers the multiplier while a host stays healthy; here by one per base ejection time.
      const healthyPeriods = Math.floor((now - instance.returnedAt) / detection.baseEjectionMs);
      instance.timesEjected = Math.max(0, instance.timesEjected - healthyPeriods);
    }
    instance.timesEjected++;
    const durationMs = Math.min(detection.baseEjectionMs * instance.timesEjected, detection.maxEjectionMs);
    instance.ejectedUntil = now + durationMs;
    instance.consecutiveFailures = 0;
    this.ejected++;
    this.emit({ type: 'ejected', url: instance.url, durationMs, times: instance.timesEjected });
  }

  private returnDue(): void {
    const now = this.clock.now();
    for (const instance of this.instances) {
      if (instance.ejectedUntil === 0 || instance.ejectedUntil > now) continue;
      instance.ejectedUntil = 0;
      instance.returnedAt = now;
      this.ejected--;
      this.emit({ type: 'returned', url: instance.url });
    }
  }

  private emit(event: OutlierEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

function checkDetection(options: OutlierDetectionOptions): Detection {
  const {
    consecutiveFailures = 5,
    baseEjectionMs = 30_000,
    maxEjectionMs = 300_000,
    maxEjectionPercent = 50,
  } = options;
  const field = 'loadBalancer.outlierDetection';
  if (!Number.isInteger(consecutiveFailures) || consecutiveFailures < 1)
    throw new RangeError(
      `${field}.consecutiveFailures must be an integer >= 1, got ${String(consecutiveFailures)}`,
    );
  if (typeof baseEjectionMs !== 'number' || !(baseEjectionMs > 0) || !Number.isFinite(baseEjectionMs))
    throw new RangeError(
      `${field}.baseEjectionMs must be a finite number > 0, got ${String(baseEjectionMs)}`,
    );
  if (
    typeof maxEjectionMs !== 'number' ||
    !(maxEjectionMs >= baseEjectionMs) ||
    !Number.isFinite(maxEjectionMs)
  )
    throw new RangeError(
      `${field}.maxEjectionMs must be a finite number >= baseEjectionMs (${baseEjectionMs}), got ${String(maxEjectionMs)}`,
    );
  if (typeof maxEjectionPercent !== 'number' || !(maxEjectionPercent >= 0 && maxEjectionPercent <= 100))
    throw new RangeError(
      `${field}.maxEjectionPercent must be a number in 0..100, got ${String(maxEjectionPercent)}`,
    );
  return { consecutiveFailures, baseEjectionMs, maxEjectionMs, maxEjectionPercent };
}
