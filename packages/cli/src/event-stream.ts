import type { Disposable } from '@flotilla/resilience';

/** A set of listeners (internal): `on` returns a handle that removes the listener. */
export class Listeners<E> {
  private listeners: ((event: E) => void)[] = [];

  on(listener: (event: E) => void): Disposable {
    this.listeners = [...this.listeners, listener];
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  }

  /** Calls every listener; one that throws cannot break the supervisor. */
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

/**
 * Turns a listener registration into an async iterable: events are queued until read; iteration
 * ends when `signal` aborts, after an event for which `isLast` is true, or when the consumer
 * breaks out of its loop (the listener is removed in every case).
 */
export function eventStream<E>(
  subscribe: (listener: (event: E) => void) => Disposable,
  options: { signal?: AbortSignal; isLast?: (event: E) => boolean } = {},
): AsyncIterable<E> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<E> {
      const queue: E[] = [];
      let done = options.signal?.aborted === true;
      let wake: (() => void) | undefined;
      const finish = (): void => {
        done = true;
        registration.dispose();
        options.signal?.removeEventListener('abort', finish);
        wake?.();
      };
      const registration = subscribe((event) => {
        if (done) return;
        queue.push(event);
        if (options.isLast?.(event) === true) finish();
        wake?.();
      });
      options.signal?.addEventListener('abort', finish, { once: true });
      if (done) registration.dispose();
      return {
        async next(): Promise<IteratorResult<E>> {
          while (queue.length === 0 && !done) await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          const event = queue.shift();
          return event === undefined ? { done: true, value: undefined } : { done: false, value: event };
        },
        async return(): Promise<IteratorResult<E>> {
          finish();
          queue.length = 0;
          return { done: true, value: undefined };
        },
      };
    },
  };
}
