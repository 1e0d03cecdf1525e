/** Something that can be released: a listener registration, a queued waiter, a lease. */
export interface Disposable {
  /** Releases it; calling it again does nothing. */
  dispose(): void;
}

/** A listener for events of type `E`. */
export type Listener<E> = (event: E) => void;

/**
 * A tiny synchronous event emitter. `emit` costs one length check when nobody listens, so
 * policies can call `if (emitter.active)` before they even build the event object.
 */
export class Emitter<E> {
  private listeners: Listener<E>[] = [];

  /** True when at least one listener is registered. */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  /** Registers a listener; the returned handle removes it. */
  on(listener: Listener<E>): Disposable {
    this.listeners = [...this.listeners, listener];
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  }

  /** Calls every listener with `event`. A throwing listener cannot break the policy. */
  emit(event: E): void {
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
