import type { RestartSettings } from './system-definition.js';

/** How a supervised process ended, as the restart policy needs to know it. */
export interface ProcessExit {
  /** How long the process ran, in milliseconds. */
  readonly uptimeMs: number;
  /** Whether it became ready before it exited. */
  readonly becameReady: boolean;
}

/** What to do after a crash. */
export type RestartDecision =
  | {
      readonly kind: 'restart';
      /** Wait this long first, in milliseconds. */
      readonly delayMs: number;
      /** Consecutive crashes so far (1 for the first). */
      readonly crashes: number;
    }
  | {
      readonly kind: 'give-up';
      /** Consecutive crashes before becoming ready. */
      readonly startFailures: number;
    };

/** The restart bookkeeping of one supervised instance. */
export interface RestartPolicy {
  /** Records a crash and decides what to do. */
  next(exit: ProcessExit): RestartDecision;
  /** Forgets past crashes (the operator started the service again). */
  reset(): void;
}

/**
 * Exponential backoff for crashed processes: the n-th consecutive crash waits
 * `min(maxDelayMs, initialDelayMs * 2^(n-1))`. A process that ran for `resetAfterMs` before
 * crashing starts the count over. After `maxStartFailures` consecutive crashes without ever
 * becoming ready the policy gives up, so a service broken at start is reported instead of spun
 * forever; one that crashes after becoming ready keeps being restarted (at the longest delay).
 *
 * @example
 * const policy = restartPolicy({ initialDelayMs: 500 });
 * policy.next({ uptimeMs: 20, becameReady: false }); // { kind: 'restart', delayMs: 500, crashes: 1 }
 */
export function restartPolicy(settings: RestartSettings = {}): RestartPolicy {
  const { initialDelayMs = 500, maxDelayMs = 30_000, resetAfterMs = 30_000, maxStartFailures = 5 } = settings;
  let crashes = 0;
  let startFailures = 0;
  return {
    next(exit) {
      if (exit.uptimeMs >= resetAfterMs) crashes = 0;
      crashes++;
      startFailures = exit.becameReady ? 0 : startFailures + 1;
      if (startFailures >= maxStartFailures) return { kind: 'give-up', startFailures };
      const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(crashes - 1, 30));
      return { kind: 'restart', delayMs, crashes };
    },
    reset() {
      crashes = 0;
      startFailures = 0;
    },
  };
}
