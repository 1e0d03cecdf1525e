import type { AdaptiveLimit } from './adaptive-limit.js';
import type { TimerHandle } from './clock.js';
import type { Scope, Work } from './context.js';
import type { Disposable } from './disposable.js';
import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from './errors.js';
import { type ErrorFilter, handleAll } from './handlers.js';
import {
  type OutcomeEvent,
  type Policy,
  PolicyBase,
  type PolicyOptions,
  proceed,
  RUN,
  type Runnable,
} from './policy.js';

/** Why a bulkhead refused a call: no free slot or queue place, or it waited too long in the queue. */
export type BulkheadRejectionReason = 'full' | 'queue-timeout';

/** Raised when a bulkhead refuses a call. `retryable`: slots free up as running calls finish. */
export class BulkheadRejectedError extends FlotillaError {
  override readonly name = 'BulkheadRejectedError';
  readonly retryable = true;

  constructor(
    /** The concurrency limit when the call was refused. */
    readonly limit: number,
    /** The queue's capacity. */
    readonly queue: number,
    /** Why the call was refused. */
    readonly reason: BulkheadRejectionReason,
    options?: FlotillaErrorOptions,
  ) {
    super(
      'BULKHEAD_REJECTED',
      reason === 'full'
        ? `bulkhead is full (limit ${limit}, queue ${queue})`
        : `bulkhead queue wait timed out (limit ${limit}, queue ${queue})`,
      options,
    );
  }
}

/** True when `err` is a {@link BulkheadRejectedError} (from any copy of this package). */
export function isBulkheadRejectedError(err: unknown): err is BulkheadRejectedError {
  return hasFlotillaCode(err, 'BULKHEAD_REJECTED');
}

/** Options of {@link bulkhead}. */
export interface BulkheadOptions extends PolicyOptions {
  /**
   * Most executions running at once: a fixed number (an integer >= 1), or an {@link AdaptiveLimit}
   * (`aimdLimit()`, `gradientLimit()`) that moves with observed latency and failures.
   * @default 10
   */
  limit?: number | AdaptiveLimit;
  /**
   * Most calls waiting for a slot, admitted in arrival order (an integer >= 0).
   * @default 0
   */
  queue?: number;
  /**
   * Longest a call may wait in the queue, in milliseconds; it is then rejected with reason
   * `'queue-timeout'`.
   * @default no limit
   */
  queueTimeoutMs?: number;
  /**
   * Which errors of the work count as drops for an adaptive limit (overload signals); other
   * errors leave the limit unchanged.
   * @default handleAll
   */
  dropOn?: ErrorFilter;
}

/** Events of a bulkhead. */
export type BulkheadEvent =
  | OutcomeEvent
  | {
      /** A call was refused. */
      readonly type: 'rejection';
      /** Name of the emitting policy. */
      readonly policy: string;
      readonly reason: BulkheadRejectionReason;
    }
  | {
      /** A call found every slot taken and waits in the queue. */
      readonly type: 'queued';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** Calls in the queue, this one included. */
      readonly queued: number;
    }
  | {
      /** A queued call got a slot and runs now. */
      readonly type: 'dequeued';
      /** Name of the emitting policy. */
      readonly policy: string;
      /** How long it waited, in milliseconds. */
      readonly waitedMs: number;
    };

/** A bulkhead: a bound on concurrent executions, with an optional waiting queue. */
export interface BulkheadPolicy extends Policy<BulkheadEvent> {
  /** Always `'bulkhead'`. */
  readonly kind: 'bulkhead';
  /** Free execution slots now (0 when the limit is reached, or exceeded after an adaptive limit shrank). */
  readonly executionSlots: number;
  /** Free places in the queue now. */
  readonly queueSlots: number;
  /** Executions running now. */
  readonly active: number;
  /** Calls waiting in the queue now. */
  readonly queued: number;
}

/** A call waiting for a slot: a node of the bulkhead's intrusive queue. */
class Waiter {
  prev: Waiter | undefined;
  next: Waiter | undefined;
  linked: boolean;
  abort: Disposable | undefined;
  constructor(
    readonly fn: Work<unknown>,
    readonly scope: Scope,
    readonly chain: readonly Runnable[] | undefined,
    readonly index: number,
    readonly enqueuedAt: number,
    readonly resolve: (value: Promise<unknown>) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.prev = undefined;
    this.next = undefined;
    this.linked = false;
    this.abort = undefined;
  }
}

/**
 * Bounds how many executions run at once, so one slow dependency cannot take every connection,
 * thread or socket. A call beyond the limit waits in a FIFO queue if there is room, else is
 * rejected with {@link BulkheadRejectedError}; a queued call whose caller aborts leaves the queue
 * at once. With an adaptive limit every execution is timed and fed to the limit.
 *
 * @example
 * const db = bulkhead({ limit: 10, queue: 50, queueTimeoutMs: 1_000 });
 * const rows = await db.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()));
 * const adaptive = bulkhead({ limit: aimdLimit({ initialLimit: 10 }), queue: 20 });
 */
export function bulkhead(options?: BulkheadOptions): BulkheadPolicy;
/** Shorthand: `bulkhead(10, 50)` for a limit of 10 and a queue of 50. */
export function bulkhead(limit: number | AdaptiveLimit, queue?: number): BulkheadPolicy;
export function bulkhead(arg?: BulkheadOptions | number | AdaptiveLimit, queue?: number): BulkheadPolicy {
  const options: BulkheadOptions =
    typeof arg === 'number' || isAdaptiveLimit(arg)
      ? { limit: arg, ...(queue === undefined ? {} : { queue }) }
      : (arg ?? {});
  return new Bulkhead(options);
}

function isAdaptiveLimit(value: unknown): value is AdaptiveLimit {
  return (
    typeof value === 'object' && value !== null && typeof (value as AdaptiveLimit).onSample === 'function'
  );
}

/**
 * Completion is observed by a side reaction (`void work.then(onOk, onError)`) while the work's
 * own promise goes back to the caller, instead of returning a derived `work.then(...)`: the
 * caller resumes one microtask turn sooner. The side reaction is registered before the caller's,
 * so the slot is free and the outcome counted by the time the caller resumes; it never throws, so
 * its own promise never becomes an unhandled rejection.
 */
class Bulkhead extends PolicyBase<BulkheadEvent> implements BulkheadPolicy {
  readonly kind = 'bulkhead' as const;
  private running: number;
  private waiting: number;
  private readonly fixedLimit: number;
  private readonly adaptive: AdaptiveLimit | undefined;
  private readonly queueLimit: number;
  private readonly queueTimeoutMs: number | undefined;
  private readonly dropOn: ErrorFilter;
  private head: Waiter | undefined;
  private tail: Waiter | undefined;
  private timer: TimerHandle | undefined;
  /** Pre-bound completion handlers of the untimed path: no closure per call. */
  private readonly onOk: () => void;
  private readonly onError: (error: unknown) => void;
  private readonly expire: () => void;

  constructor(options: BulkheadOptions) {
    super('bulkhead', options);
    const { limit = 10, queue = 0, queueTimeoutMs, dropOn = handleAll } = options;
    if (isAdaptiveLimit(limit)) {
      this.adaptive = limit;
      this.fixedLimit = 0;
    } else if (Number.isInteger(limit) && limit >= 1) {
      this.adaptive = undefined;
      this.fixedLimit = limit;
    } else {
      throw new RangeError(
        `bulkhead.limit must be an integer >= 1 or an AdaptiveLimit, got ${String(limit)}`,
      );
    }
    if (!Number.isInteger(queue) || queue < 0)
      throw new RangeError(`bulkhead.queue must be an integer >= 0, got ${String(queue)}`);
    if (queueTimeoutMs !== undefined && (typeof queueTimeoutMs !== 'number' || !(queueTimeoutMs > 0)))
      throw new RangeError(`bulkhead.queueTimeoutMs must be a number > 0, got ${String(queueTimeoutMs)}`);
    if (typeof dropOn !== 'function')
      throw new TypeError(`bulkhead.dropOn must be a function, got ${typeof dropOn}`);
    this.queueLimit = queue;
    this.queueTimeoutMs = queueTimeoutMs;
    this.dropOn = dropOn;
    this.running = 0;
    this.waiting = 0;
    this.head = undefined;
    this.tail = undefined;
    this.timer = undefined;
    this.onOk = () => {
      this.metrics.success();
      this.release();
    };
    this.onError = (error) => {
      this.recordFailure(-1, error);
      this.release();
    };
    this.expire = () => this.expireWaiters();
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting;
  }

  get executionSlots(): number {
    return Math.max(0, this.limit() - this.running);
  }

  get queueSlots(): number {
    return this.queueLimit - this.waiting;
  }

  [RUN]<T>(fn: Work<T>, scope: Scope, chain: readonly Runnable[] | undefined, index: number): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    this.metrics.call();
    if (this.adaptive === undefined) {
      if (this.running < this.fixedLimit) {
        this.running++;
        if (this.timed()) return this.runTimed(fn, scope, chain, index);
        const work = runSafely(fn, scope, chain, index);
        void work.then(this.onOk, this.onError);
        return work;
      }
    } else if (this.running < this.adaptive.limit && this.head === undefined) {
      this.running++;
      return this.runSampled(fn, scope, chain, index);
    }
    if (this.waiting < this.queueLimit) return this.enqueue(fn, scope, chain, index);
    return Promise.reject(this.reject('full'));
  }

  /** Runs admitted work (the slot is already taken), timed for metrics. */
  private runTimed<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    const start = this.clock.now();
    const work = runSafely(fn, scope, chain, index);
    void work.then(
      () => {
        this.recordSuccess(start);
        this.release();
      },
      (error: unknown) => {
        this.recordFailure(start, error);
        this.release();
      },
    );
    return work;
  }

  /** Runs admitted work under an adaptive limit: every execution becomes a sample. */
  private runSampled<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    const start = this.clock.now();
    const inflight = this.running;
    const work = runSafely(fn, scope, chain, index);
    void work.then(
      () => {
        this.sample(start, inflight, false);
        this.recordSuccess(start);
        this.release();
      },
      (error: unknown) => {
        // A caller's abort says nothing about the upstream; errors outside `dropOn` are ignored.
        if (!scope.aborted && this.isDrop(error)) this.sample(start, inflight, true);
        this.recordFailure(start, error);
        this.release();
      },
    );
    return work;
  }

  /**
   * Feeds one sample to the adaptive limit. A throwing limit (or `dropOn`) must neither lose the
   * slot nor replace the work's outcome, so its error is rethrown on its own, like a listener's.
   */
  private sample(start: number, inflight: number, dropped: boolean): void {
    try {
      (this.adaptive as AdaptiveLimit).onSample({ rttMs: this.clock.now() - start, inflight, dropped });
    } catch (err) {
      rethrowLater(err);
    }
  }

  private isDrop(error: unknown): boolean {
    try {
      return this.dropOn(error);
    } catch (err) {
      rethrowLater(err);
      return false;
    }
  }

  /** Runs work admitted from the queue or at the fast path's checks. */
  private run<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    if (this.adaptive !== undefined) return this.runSampled(fn, scope, chain, index);
    if (this.timed()) return this.runTimed(fn, scope, chain, index);
    const work = runSafely(fn, scope, chain, index);
    void work.then(this.onOk, this.onError);
    return work;
  }

  /** Frees a slot exactly once per admitted execution, handing it to queued calls first. */
  private release(): void {
    this.running--;
    if (this.head !== undefined) this.drain();
  }

  /** Admits queued calls, oldest first, while the (possibly just grown) limit allows. */
  private drain(): void {
    const limit = this.limit();
    for (let w = this.head; w !== undefined && this.running < limit; w = this.head) {
      this.unlink(w);
      w.abort?.dispose();
      this.running++;
      if (this.events.active)
        this.events.emit({ type: 'dequeued', policy: this.name, waitedMs: this.clock.now() - w.enqueuedAt });
      w.resolve(this.run(w.fn, w.scope, w.chain, w.index));
    }
    if (this.head === undefined) this.disarm();
  }

  private enqueue<T>(
    fn: Work<T>,
    scope: Scope,
    chain: readonly Runnable[] | undefined,
    index: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter = new Waiter(
        fn as Work<unknown>,
        scope,
        chain,
        index,
        this.clock.now(),
        resolve as (value: Promise<unknown>) => void,
        reject,
      );
      this.link(waiter);
      if (this.events.active) this.events.emit({ type: 'queued', policy: this.name, queued: this.waiting });
      // A waiter that gives up was never run: neither a success nor a failure of the upstream.
      if (scope.cancellable)
        waiter.abort = scope.onAbort((reason) => {
          this.unlink(waiter);
          if (this.head === undefined) this.disarm();
          reject(reason);
        });
      if (this.queueTimeoutMs !== undefined && this.timer === undefined)
        this.timer = this.clock.setTimeout(this.expire, this.queueTimeoutMs);
    });
  }

  /**
   * Rejects the waiters whose queue time is up. The queue is FIFO and every waiter has the same
   * timeout, so the head always expires first and one timer serves the whole queue.
   */
  private expireWaiters(): void {
    this.timer = undefined;
    const timeoutMs = this.queueTimeoutMs as number;
    const now = this.clock.now();
    for (let w = this.head; w !== undefined && w.enqueuedAt + timeoutMs <= now; w = this.head) {
      this.unlink(w);
      w.abort?.dispose();
      w.reject(this.reject('queue-timeout'));
    }
    if (this.head !== undefined)
      this.timer = this.clock.setTimeout(this.expire, this.head.enqueuedAt + timeoutMs - now);
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private reject(reason: BulkheadRejectionReason): BulkheadRejectedError {
    this.metrics.rejection(this.clock.now());
    if (this.events.active) this.events.emit({ type: 'rejection', policy: this.name, reason });
    return new BulkheadRejectedError(this.limit(), this.queueLimit, reason);
  }

  private link(waiter: Waiter): void {
    waiter.linked = true;
    this.waiting++;
    if (this.tail === undefined) this.head = waiter;
    else {
      waiter.prev = this.tail;
      this.tail.next = waiter;
    }
    this.tail = waiter;
  }

  private unlink(waiter: Waiter): void {
    if (!waiter.linked) return;
    waiter.linked = false;
    this.waiting--;
    if (waiter.prev === undefined) this.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
  }

  private limit(): number {
    return this.adaptive === undefined ? this.fixedLimit : this.adaptive.limit;
  }

  protected override snapshotState(): string {
    return this.running >= this.limit() ? 'saturated' : 'available';
  }

  protected override details() {
    return {
      active: this.running,
      queued: this.waiting,
      limit: this.limit(),
      queueLimit: this.queueLimit,
      adaptive: this.adaptive === undefined ? null : (this.adaptive.kind ?? 'custom'),
    };
  }
}

/** {@link proceed}, with a synchronous throw of an inner policy turned into a rejection. */
function runSafely<T>(
  fn: Work<T>,
  scope: Scope,
  chain: readonly Runnable[] | undefined,
  index: number,
): Promise<T> {
  try {
    return proceed(fn, scope, chain, index);
  } catch (err) {
    return Promise.reject(err);
  }
}

function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
