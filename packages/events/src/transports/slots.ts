/**
 * A counting semaphore for a subscription's `concurrency` (internal). Waiters are served in
 * arrival order; a waiter whose signal aborts, or every waiter on `cancel()`, gets `false`.
 */
export class Slots {
  private free: number;
  private readonly waiters: ((granted: boolean) => void)[] = [];

  constructor(limit: number) {
    this.free = limit;
  }

  /** Resolves `true` once a slot is taken, or `false` when `signal` aborts or `cancel()` runs first. */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter = (granted: boolean): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** True when a slot can be taken right now. */
  get available(): boolean {
    return this.free > 0;
  }

  /** Gives a slot back, handing it straight to the oldest waiter. */
  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next(true);
    else this.free++;
  }

  /** Wakes every waiter with `false`. */
  cancel(): void {
    for (const w of this.waiters.splice(0)) w(false);
  }
}
