import { type Clock, systemClock } from '@flotilla/resilience';
import type { LoadContext, LoadScenario } from './load-scenario.js';

/** Options of {@link runLoad}. */
export interface RunLoadOptions {
  /** How many iterations (orders) to run in all. */
  iterations: number;
  /** How many iterations run at once. */
  concurrency: number;
  /** Passed to the scenario as `gatewayUrl`. */
  gatewayUrl: string;
  /**
   * Passed to the scenario as `secrets`.
   * @default {}
   */
  secrets?: Readonly<Record<string, string>>;
  /**
   * Seed of the scenario's `random`, so a run can be repeated.
   * @default a random seed
   */
  seed?: number;
  /** Stops starting iterations and aborts the running ones' signal; the summary covers what ran. */
  signal?: AbortSignal;
  /**
   * Measures latencies and the elapsed time.
   * @default systemClock
   */
  clock?: Clock;
  /** Called after every finished iteration. */
  onProgress?: (progress: LoadProgress) => void;
}

/** Where a load run stands. */
export interface LoadProgress {
  /** Iterations finished, successfully or not. */
  readonly done: number;
  readonly failed: number;
  readonly total: number;
  readonly elapsedMs: number;
  /** Outcome counts so far (a live view: copy it to keep it). */
  readonly outcomes: Readonly<Record<string, number>>;
}

/** The result of a load run. */
export interface LoadSummary {
  /** Iterations asked for. */
  readonly iterations: number;
  readonly concurrency: number;
  /** Iterations whose scenario returned. */
  readonly succeeded: number;
  /** Iterations whose scenario threw. */
  readonly failed: number;
  /** True when the run was cancelled before every iteration ran. */
  readonly cancelled: boolean;
  readonly seed: number;
  readonly elapsedMs: number;
  /** Finished iterations per second. */
  readonly throughputPerSecond: number;
  /** Latency of successful iterations, in milliseconds; null when none succeeded. */
  readonly latency: {
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly meanMs: number;
  } | null;
  /** What the scenario reported, by outcome. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Failures by error message. */
  readonly errors: Readonly<Record<string, number>>;
}

/**
 * Runs a load scenario `iterations` times, `concurrency` at a time, and summarises throughput,
 * latency percentiles and the outcomes the scenario reported.
 *
 * @example
 * const summary = await runLoad(load, { iterations: 500, concurrency: 20, gatewayUrl: 'http://127.0.0.1:7100' });
 * console.log(summary.throughputPerSecond, summary.latency?.p99Ms, summary.outcomes);
 */
export async function runLoad(scenario: LoadScenario, options: RunLoadOptions): Promise<LoadSummary> {
  const { iterations, concurrency, gatewayUrl } = options;
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw new RangeError(`runLoad.iterations must be an integer >= 1, got ${String(iterations)}`);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1)
    throw new RangeError(`runLoad.concurrency must be an integer >= 1, got ${String(concurrency)}`);
  const clock = options.clock ?? systemClock;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const random = mulberry32(seed);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) controller.abort(options.signal.reason);

  const outcomes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  const shared = new Map<string, Promise<unknown>>();
  let next = 0;
  let done = 0;
  let failed = 0;
  const started = clock.now();
  const report = (outcome: string, count = 1): void => {
    outcomes[outcome] = (outcomes[outcome] ?? 0) + count;
  };
  const once = <T>(key: string, create: () => T | Promise<T>): Promise<T> => {
    let p = shared.get(key) as Promise<T> | undefined;
    if (p === undefined) {
      p = Promise.resolve().then(create);
      shared.set(key, p);
      // A failed setup is tried again by the next iteration rather than failing every one.
      p.catch(() => shared.delete(key));
    }
    return p;
  };

  const worker = async (): Promise<void> => {
    while (next < iterations && !controller.signal.aborted) {
      const iteration = next++;
      const ctx: LoadContext = {
        gatewayUrl: gatewayUrl.replace(/\/+$/, ''),
        signal: controller.signal,
        random,
        iteration,
        secrets: options.secrets ?? {},
        report,
        once,
      };
      const start = clock.now();
      try {
        const result = await scenario(ctx);
        latencies.push(clock.now() - start);
        if (typeof result === 'string') report(result);
      } catch (err) {
        // An iteration cut short by cancellation is not a failure of the system under load.
        if (controller.signal.aborted) break;
        failed++;
        const message = err instanceof Error ? err.message : String(err);
        errors[message] = (errors[message] ?? 0) + 1;
      }
      done++;
      options.onProgress?.({ done, failed, total: iterations, elapsedMs: clock.now() - started, outcomes });
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, iterations) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  const elapsedMs = clock.now() - started;
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return {
    iterations,
    concurrency,
    succeeded: latencies.length,
    failed,
    cancelled: done < iterations,
    seed,
    elapsedMs,
    throughputPerSecond: elapsedMs > 0 ? (done * 1000) / elapsedMs : 0,
    latency:
      sorted.length === 0
        ? null
        : {
            p50Ms: at(0.5),
            p99Ms: at(0.99),
            maxMs: sorted[sorted.length - 1]!,
            meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
          },
    outcomes,
    errors,
  };
}

/** A small seeded generator of uniform numbers in [0, 1) (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
