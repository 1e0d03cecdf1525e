/**
 * Cancellation of client calls and their attempts (internal), built to create no `AbortSignal`
 * on the common path: on Node 20 creating one and listening to it costs tens of microseconds
 * per call (creation, first listener, garbage collection), more than every policy of a call
 * together.
 */
import { type Clock, type PolicyContext, TimeoutError, type TimerHandle } from '@flotilla/resilience';
import { markCallerFault, markNotRetryable } from './upstream-policies.js';

/**
 * The cancellation of one attempt, in the shape undici accepts besides `AbortSignal` (an
 * emitter of `'abort'` with `aborted` and `reason`). The policies' `AbortSignal` of the attempt
 * is read only when the attempt outlives its timeout (see {@link Watchdog}); the caller's
 * cancellation reaches it through {@link CallCancel}.
 */
export class AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  /** Links of the watchdog's list. */
  deadline = 0;
  prev: AttemptSignal | undefined = undefined;
  next: AttemptSignal | undefined = undefined;
  linked = false;
  private listener: (() => void) | undefined = undefined;
  private followed: AbortSignal | undefined = undefined;
  private onPolicyAbort: (() => void) | undefined = undefined;

  constructor(private readonly policy: PolicyContext) {}

  /** Registers undici's listener (undici calls `once`; `on` is its shape check). */
  on(_event: 'abort', listener: () => void): this {
    this.listener = listener;
    return this;
  }

  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: () => void): this {
    if (this.listener === listener) this.listener = undefined;
    return this;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
  }

  /** From now on, aborts when the policies' signal of the attempt aborts (at once if it has). */
  follow(): void {
    if (this.followed !== undefined) return;
    const signal = this.policy.signal;
    if (signal.aborted) {
      this.abort(signal.reason);
      return;
    }
    this.followed = signal;
    this.onPolicyAbort = () => this.abort(signal.reason);
    signal.addEventListener('abort', this.onPolicyAbort, { once: true });
  }

  dispose(): void {
    if (this.followed === undefined || this.onPolicyAbort === undefined) return;
    this.followed.removeEventListener('abort', this.onPolicyAbort);
    this.followed = undefined;
  }
}

/**
 * Watches the attempts of one attempt timeout and makes each one that outlives it follow its
 * policies' signal, so the timeout policy's abort stops the request. Attempts that finish in
 * time cost a link and an unlink in one list; every attempt shares one timer.
 */
export class Watchdog {
  private head: AttemptSignal | undefined = undefined;
  private tail: AttemptSignal | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  add(signal: AttemptSignal): void {
    signal.deadline = this.clock.now() + this.timeoutMs;
    signal.linked = true;
    if (this.tail === undefined) {
      this.head = this.tail = signal;
      if (this.timer === undefined) this.timer = this.clock.setTimeout(this.fire, this.timeoutMs);
      return;
    }
    signal.prev = this.tail;
    this.tail.next = signal;
    this.tail = signal;
  }

  remove(signal: AttemptSignal): void {
    if (!signal.linked) return;
    signal.linked = false;
    if (signal.prev === undefined) this.head = signal.next;
    else signal.prev.next = signal.next;
    if (signal.next === undefined) this.tail = signal.prev;
    else signal.next.prev = signal.prev;
    signal.prev = signal.next = undefined;
  }

  // Deadlines are in arrival order (one timeout per watchdog): expire from the head, re-arm for
  // the next. The timer is not cleared when the list empties; re-arming each time costs more.
  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    for (let s = this.head; s !== undefined && s.deadline <= now; s = this.head) {
      this.remove(s);
      s.follow();
    }
    if (this.head !== undefined)
      this.timer = this.clock.setTimeout(this.fire, Math.max(0, this.head.deadline - now));
  };
}

/** The error of a call whose context deadline has passed: not retried, not the upstream's fault. */
export function deadlineError(service: string): TimeoutError {
  const err = new TimeoutError(0);
  err.message = `the caller's deadline passed before ${service} answered`;
  markNotRetryable(err);
  markCallerFault(err);
  return err;
}

/** What a call's cancellation needs to know of its upstream. */
export interface CancelTarget {
  readonly service: string;
  readonly clock: Clock;
  /** Wall clock in epoch milliseconds. */
  readonly now: () => number;
}

/**
 * The cancellation of one call: the caller's signals and the context deadline. The policies get
 * one `AbortSignal` for it (to end retry and queue waits); the request in flight is told through
 * `onAbort`, which costs no listener on that signal.
 */
export class CallCancel {
  aborted = false;
  reason: unknown = undefined;
  /** Called once when the call is cancelled. */
  onAbort: ((reason: unknown) => void) | undefined = undefined;
  /** The signal for the policies. */
  readonly signal: AbortSignal;
  private readonly controller: AbortController | undefined;
  private readonly sources: readonly AbortSignal[];
  private readonly timer: TimerHandle | undefined;
  private readonly clock: Clock;
  private readonly listener = (event: Event): void => this.fire((event.target as AbortSignal).reason);

  constructor(sources: readonly AbortSignal[], deadline: number | undefined, target: CancelTarget) {
    this.clock = target.clock;
    // One signal and no deadline: the policies use it as it is.
    this.controller = sources.length === 1 && deadline === undefined ? undefined : new AbortController();
    this.signal = this.controller?.signal ?? (sources[0] as AbortSignal);
    this.sources = sources;
    for (const source of sources) {
      if (source.aborted) this.fire(source.reason);
      else source.addEventListener('abort', this.listener, { once: true });
    }
    this.timer =
      deadline === undefined || this.aborted
        ? undefined
        : target.clock.setTimeout(() => this.fire(deadlineError(target.service)), deadline - target.now());
  }

  private fire(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.(reason);
  }

  dispose(): void {
    for (const source of this.sources) source.removeEventListener('abort', this.listener);
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }
}

/** The cancellation of a call; `undefined` when nothing can cancel it (the fast path). */
export function combineSignals(
  a: AbortSignal | undefined,
  b: AbortSignal | undefined,
  deadline: number | undefined,
  target: CancelTarget,
): CallCancel | undefined {
  if (a === undefined && b === undefined && deadline === undefined) return undefined;
  return new CallCancel(
    a === undefined ? (b === undefined ? [] : [b]) : b === undefined ? [a] : [a, b],
    deadline,
    target,
  );
}
