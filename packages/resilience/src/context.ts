import type { Disposable } from './disposable.js';

/** What a policy passes to the work it runs. */
export interface PolicyContext {
  /**
   * Aborts when the caller's signal aborts, a timeout fires, or a hedged attempt loses. The work
   * should pass it on (to `fetch`, a database driver, …) so cancelled work stops.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
}

/** The work a policy runs. */
export type Work<T> = (context: PolicyContext) => T | PromiseLike<T>;

/**
 * The cancellation scope of one execution (internal). Policies derive child scopes instead of
 * `AbortController`s: a scope creates its `AbortSignal` only when the work reads `signal`, so the
 * common case — work that finishes in time and never looks at the signal — allocates nothing
 * but this small object.
 */
export class Scope implements PolicyContext {
  private controller: AbortController | undefined;
  private parentSignal: AbortSignal | undefined;
  private parentListener: (() => void) | undefined;
  private ownAborted = false;
  private ownReason: unknown;

  constructor(
    /** The enclosing scope; `undefined` for the root of an `execute` call. */
    readonly parent: Scope | undefined,
    /** The caller's signal, for a root scope. */
    private readonly external: AbortSignal | undefined,
    /** The attempt number seen by the work. */
    readonly attempt: number,
    /** Whether this scope can be aborted by itself (timeouts, hedging); otherwise it mirrors its parent. */
    private readonly abortable: boolean,
  ) {}

  /** A root scope for a public `execute(fn, signal)` call. */
  static root(signal: AbortSignal | undefined): Scope {
    // Without a caller's signal a root scope can never abort and holds no state: share one.
    return signal === undefined ? UNCANCELLABLE : new Scope(undefined, signal, 1, false);
  }

  /** A child that mirrors this scope's cancellation but shows another attempt number. */
  withAttempt(attempt: number): Scope {
    return attempt === this.attempt ? this : new Scope(this, undefined, attempt, false);
  }

  /** A child that can be aborted on its own (and aborts with this scope). Dispose it when done. */
  child(): Scope {
    return new Scope(this, undefined, this.attempt, true);
  }

  /** Whether this scope can ever abort (it or an ancestor is abortable or has a caller's signal). */
  get cancellable(): boolean {
    if (this.abortable || this.external !== undefined) return true;
    return this.parent?.cancellable === true;
  }

  /** Whether this scope or an ancestor has been aborted. Never allocates. */
  get aborted(): boolean {
    if (this.ownAborted) return true;
    return this.parent !== undefined ? this.parent.aborted : this.external?.aborted === true;
  }

  /** The abort reason of this scope or its nearest aborted ancestor. */
  get reason(): unknown {
    if (this.ownAborted) return this.ownReason;
    return this.parent !== undefined ? this.parent.reason : this.external?.reason;
  }

  get signal(): AbortSignal {
    if (!this.abortable) {
      if (this.parent !== undefined) return this.parent.signal;
      if (this.external !== undefined) return this.external;
      // A root that can never abort (often the shared constant): a fresh signal per read, so
      // listeners the work adds are collected with it instead of piling up on a shared one.
      return new AbortController().signal;
    }
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.ownAborted) {
        this.controller.abort(this.ownReason);
      } else if (this.parent?.cancellable === true) {
        const parentSignal = this.parent.signal;
        if (parentSignal.aborted) this.controller.abort(parentSignal.reason);
        else {
          const controller = this.controller;
          this.parentListener = () => controller.abort(parentSignal.reason);
          parentSignal.addEventListener('abort', this.parentListener, { once: true });
          this.parentSignal = parentSignal;
        }
      }
    }
    return this.controller.signal;
  }

  /** Aborts this scope (and the signal, if the work has one) with `reason`. */
  abort(reason: unknown): void {
    if (this.ownAborted) return;
    this.ownAborted = true;
    this.ownReason = reason;
    this.controller?.abort(reason);
  }

  /**
   * Calls `listener` once when this scope aborts (immediately if it already has). Only for slow
   * paths that wait — backoff delays, queues — since it materialises the signal.
   */
  onAbort(listener: (reason: unknown) => void): Disposable {
    if (this.aborted) {
      listener(this.reason);
      return NOOP;
    }
    const signal = this.signal;
    const handler = (): void => listener(signal.reason);
    signal.addEventListener('abort', handler, { once: true });
    return { dispose: () => signal.removeEventListener('abort', handler) };
  }

  /** Detaches from the parent's signal; call when the execution that owns this scope settles. */
  dispose(): void {
    if (this.parentSignal !== undefined && this.parentListener !== undefined) {
      this.parentSignal.removeEventListener('abort', this.parentListener);
      this.parentSignal = undefined;
      this.parentListener = undefined;
    }
  }
}

const NOOP: Disposable = { dispose() {} };
const UNCANCELLABLE = new Scope(undefined, undefined, 1, false);

/** Calls `fn` and always returns a promise, turning a synchronous throw into a rejection. */
export function invoke<T>(fn: Work<T>, context: PolicyContext): Promise<T> {
  try {
    const result = fn(context);
    return result instanceof Promise ? result : Promise.resolve(result);
  } catch (err) {
    return Promise.reject(err);
  }
}
