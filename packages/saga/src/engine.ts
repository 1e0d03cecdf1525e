import type { EventBus } from '@flotilla/events';
import type { Backoff, Clock, RandomSource } from '@flotilla/resilience';
import type { Store, StoreDialect } from '@flotilla/store';
import type { AnySagaDefinition } from './define-saga.js';
import type { SagaLogger } from './logger.js';
import type { SagaEvent } from './saga-events.js';
import type { SagaMetrics } from './saga-metrics.js';
import type { SagaState } from './states.js';
import type { SagaTracer } from './trace.js';

/** Runner settings with defaults applied (internal). */
export interface ResolvedRunnerOptions {
  readonly bus: EventBus<unknown> | undefined;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly claimBatchSize: number;
  readonly stuckAfterAttempts: number;
  readonly compensationBackoff: Backoff;
  readonly maxRetryAfterMs: number;
  readonly maxStepsPerTransaction: number;
  readonly tracer: SagaTracer | undefined;
  readonly logger: SagaLogger;
  readonly clock: Clock;
  readonly now: () => number;
  readonly random: RandomSource;
}

/** What an execution needs of its runner (internal). */
export interface Engine {
  readonly store: Store<unknown>;
  readonly dialect: StoreDialect;
  /** This runner instance's id: the lease owner. */
  readonly owner: string;
  readonly o: ResolvedRunnerOptions;
  readonly metrics: SagaMetrics | undefined;
  /** Whether the runner is closing: executions release their lease at the next step. */
  readonly closing: boolean;
  /** Aborts when the runner closes. */
  readonly signal: AbortSignal;
  emit(event: SagaEvent): void;
  /** Makes sure a claim pass runs at `epochMs` (a retry delay, a command timeout). */
  wakeAt(epochMs: number): void;
  /** The instance reached a terminal state or got stuck. */
  finished(sagaId: string, state: SagaState): void;
  /** Registered definitions by `name@version`. */
  readonly definitions: ReadonlyMap<string, AnySagaDefinition>;
}
