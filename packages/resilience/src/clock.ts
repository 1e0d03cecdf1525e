/** A handle returned by {@link Clock.setTimeout}, accepted by {@link Clock.clearTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * The source of time for every policy. Production code uses {@link systemClock}; tests pass a
 * {@link manualClock} and advance it, so time-dependent behaviour is exact and instant.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (fractions allowed); only differences are meaningful. */
  now(): number;
  /**
   * Runs `callback` once after `delayMs` milliseconds of this clock's time. An `unref` timer does
   * not keep the process alive by itself (for background bookkeeping such as a breaker's
   * transition to half-open); waits that the caller is awaiting (a backoff delay) keep it alive.
   */
  setTimeout(callback: () => void, delayMs: number, unref?: boolean): TimerHandle;
  /** Cancels a timer that has not fired yet; cancelling a fired or cancelled timer does nothing. */
  clearTimeout(handle: TimerHandle): void;
}

/** A source of uniformly distributed numbers in [0, 1), injectable for reproducible jitter. */
export type RandomSource = () => number;

/** The real clock: `performance.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs, unref) {
    const t = setTimeout(callback, delayMs);
    if (unref === true) t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

let cachedNow = 0;
let cacheValid = false;
let cacheUses = 0;
const invalidate = (): void => {
  cacheValid = false;
};

/**
 * The clock's time, cheaply, for deadlines (internal). A real clock read can cost more than a
 * whole fast policy call, so for {@link systemClock} the time is read once every 16 calls within
 * one turn of the event loop and never reused across turns. Node's own timers are coarser: they
 * take the time cached by libuv at the start of the loop iteration. Other clocks (a test's
 * manual clock) are always read.
 */
export function deadlineNow(clock: Clock): number {
  if (clock !== systemClock) return clock.now();
  if (cacheValid && (++cacheUses & 15) !== 0) return cachedNow;
  cachedNow = performance.now();
  if (!cacheValid) {
    cacheValid = true;
    setImmediate(invalidate);
  }
  return cachedNow;
}
