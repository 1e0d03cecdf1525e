import type { Clock, TimerHandle } from './clock.js';

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A {@link Clock} whose time moves only when a test advances it. */
export interface ManualClock extends Clock {
  /** Timers scheduled and not yet fired or cancelled. */
  readonly pendingTimers: number;
  /**
   * Moves time forward by `ms`, firing every timer that falls due in order of its due time, and
   * letting promise reactions settle after each one so chains of timers behave as in real time.
   */
  advance(ms: number): Promise<void>;
  /** Moves time to the next pending timer and fires it (and any due at the same instant). */
  next(): Promise<void>;
  /** Lets every queued promise reaction run without moving time. */
  flush(): Promise<void>;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Creates a clock for tests: `now()` starts at `start` and moves only through `advance`/`next`.
 *
 * @example
 * const clock = manualClock();
 * const t = timeout({ timeoutMs: 100, clock });
 * const pending = t.execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
 * await clock.advance(100); // pending now rejects with TimeoutError
 */
export function manualClock(start = 0): ManualClock {
  let now = start;
  let nextId = 0;
  let timers: ManualTimer[] = [];

  const due = (until: number): ManualTimer | undefined => {
    let best: ManualTimer | undefined;
    for (const t of timers) {
      if (
        !t.cancelled &&
        t.at <= until &&
        (best === undefined || t.at < best.at || (t.at === best.at && t.id < best.id))
      )
        best = t;
    }
    return best;
  };

  const fire = (t: ManualTimer): void => {
    t.cancelled = true;
    timers = timers.filter((x) => !x.cancelled);
    t.callback();
  };

  return {
    now: () => now,
    setTimeout(callback, delayMs) {
      const t: ManualTimer = { id: nextId++, at: now + Math.max(0, delayMs), callback, cancelled: false };
      timers.push(t);
      return t as TimerHandle;
    },
    clearTimeout(handle) {
      (handle as ManualTimer).cancelled = true;
      timers = timers.filter((x) => !x.cancelled);
    },
    get pendingTimers() {
      return timers.length;
    },
    async advance(ms) {
      if (!(ms >= 0)) throw new RangeError(`manualClock.advance(ms) needs ms >= 0, got ${ms}`);
      const target = now + ms;
      await settle();
      for (let t = due(target); t !== undefined; t = due(target)) {
        now = Math.max(now, t.at);
        fire(t);
        await settle();
      }
      now = target;
      await settle();
    },
    async next() {
      await settle();
      const t = due(Number.POSITIVE_INFINITY);
      if (t === undefined) return;
      await this.advance(t.at - now);
    },
    flush: settle,
  };
}
