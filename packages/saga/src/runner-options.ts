import type { EventBus } from '@flotilla/events';
import {
  type Backoff,
  type Clock,
  exponentialBackoff,
  type RandomSource,
  systemClock,
} from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import type { Registry } from 'prom-client';
import type { AnySagaDefinition } from './define-saga.js';
import type { ResolvedRunnerOptions } from './engine.js';
import { type SagaLogger, warningLogger } from './logger.js';
import type { SagaTracer } from './trace.js';

/** Options of `createSagaRunner`. */
export interface SagaRunnerOptions<DB> {
  /** The owning service's store, migrated with `sagaMigrations` (and `eventsMigrations` for commands). */
  readonly store: Store<DB>;
  /**
   * The definitions this runner executes. Keep an old version registered to drain its running
   * instances after a change; instances of unregistered versions are left untouched and reported.
   */
  readonly sagas: readonly AnySagaDefinition[];
  /**
   * The service's event bus: command steps publish through its outbox, and the runner subscribes
   * to their replies (create the runner before `bus.start()`).
   * @default none (a saga with a command step is then refused)
   */
  readonly bus?: EventBus<DB>;
  /**
   * This runner's identity, the lease owner. Give a stable one per instance (the pod name):
   * a restarted instance then takes back its own leases at once instead of waiting for them to
   * expire. Two live processes must never share one.
   * @default a random UUID
   */
  readonly instanceId?: string;
  /**
   * Sagas executed at once by this runner.
   * @default 32
   */
  readonly concurrency?: number;
  /**
   * How long a lease lasts, in milliseconds; a runner that dies loses its sagas to another after
   * this. A call step extends it to outlive the call's timeout.
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * How often the runner looks for due sagas when nothing woke it, in milliseconds (sagas of
   * other instances, expired leases). Starts and replies in this process wake it at once.
   * @default 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * Most sagas claimed in one statement.
   * @default 32
   */
  readonly claimBatchSize?: number;
  /**
   * Attempts of a compensation (or a retriable step) after which the saga is marked `stuck`
   * for an operator; an integer >= 1.
   * @default 10
   */
  readonly stuckAfterAttempts?: number;
  /**
   * Delay before each retry of a failing compensation.
   * @default exponentialBackoff({ initialDelayMs: 200, maxDelayMs: 60000 })
   */
  readonly compensationBackoff?: Backoff;
  /**
   * Longest wait, in milliseconds, that a failure's own retry hint may impose before the next
   * attempt of its step or compensation. A failed attempt is retried after its backoff delay or
   * after its hint, whichever is later; the hint is the `retryAfterMs` of the error or of an
   * error in its `cause` chain (an open circuit breaker's time to its next probe, an upstream's
   * `Retry-After`). Longer hints are cut to this; 0 ignores hints.
   * @default 60000
   */
  readonly maxRetryAfterMs?: number;
  /**
   * Consecutive local steps run in one transaction (each step's effect and the checkpoint stay
   * atomic); 1 gives one transaction per step.
   * @default 16
   */
  readonly maxStepsPerTransaction?: number;
  /** Adds the runner's metrics (`flotilla_saga_*`) to this registry (the service's `metrics.registry`). */
  readonly registry?: Registry;
  /** Records a span per step attempt (the service's `tracer`). */
  readonly tracer?: SagaTracer;
  /**
   * Where failures, stuck sagas and unmatched instances are reported (pino fits).
   * @default warnings and errors to `process.emitWarning`
   */
  readonly logger?: SagaLogger;
  /**
   * Timers: polling, retry wake-ups, step timeouts.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Wall-clock time in epoch milliseconds: leases, due times, timestamps. Tests pass the manual
   * clock's `now` here too.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Randomness of backoff jitter.
   * @default Math.random
   */
  readonly random?: RandomSource;
}

/** Checks runner options and applies their defaults (internal). */
export function resolveRunnerOptions<DB>(options: SagaRunnerOptions<DB>): ResolvedRunnerOptions {
  const int = (field: string, value: number, min: number): number => {
    if (!Number.isInteger(value) || value < min)
      throw new RangeError(`createSagaRunner.${field} must be an integer >= ${min}, got ${String(value)}`);
    return value;
  };
  const {
    bus,
    concurrency = 32,
    leaseMs = 30_000,
    pollIntervalMs = 1000,
    claimBatchSize = 32,
    stuckAfterAttempts = 10,
    compensationBackoff = exponentialBackoff({ initialDelayMs: 200, maxDelayMs: 60_000 }),
    maxRetryAfterMs = 60_000,
    maxStepsPerTransaction = 16,
  } = options;
  if (typeof compensationBackoff?.delayMs !== 'function')
    throw new TypeError('createSagaRunner.compensationBackoff must be a Backoff (e.g. exponentialBackoff())');
  return {
    bus: bus as EventBus<unknown> | undefined,
    concurrency: int('concurrency', concurrency, 1),
    leaseMs: int('leaseMs', leaseMs, 10),
    pollIntervalMs: int('pollIntervalMs', pollIntervalMs, 1),
    claimBatchSize: int('claimBatchSize', claimBatchSize, 1),
    stuckAfterAttempts: int('stuckAfterAttempts', stuckAfterAttempts, 1),
    compensationBackoff,
    maxRetryAfterMs: int('maxRetryAfterMs', maxRetryAfterMs, 0),
    maxStepsPerTransaction: int('maxStepsPerTransaction', maxStepsPerTransaction, 1),
    tracer: options.tracer,
    logger: options.logger ?? warningLogger,
    clock: options.clock ?? systemClock,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
  };
}
