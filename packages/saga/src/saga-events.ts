import type { SagaState } from './states.js';

/** What a runner reports to `runner.onEvent(listener)` as it executes sagas. */
export type SagaEvent =
  | { readonly type: 'started'; readonly sagaId: string; readonly saga: string }
  | {
      /** A step's action or compensation succeeded. */
      readonly type: 'step-succeeded';
      readonly sagaId: string;
      readonly saga: string;
      readonly step: string;
      readonly phase: 'action' | 'compensation';
      readonly attempt: number;
    }
  | {
      /** A step's action or compensation failed (it may be retried). */
      readonly type: 'step-failed';
      readonly sagaId: string;
      readonly saga: string;
      readonly step: string;
      readonly phase: 'action' | 'compensation';
      readonly attempt: number;
      readonly error: string;
    }
  | {
      /** A command was sent; the saga is parked until its reply or timeout. */
      readonly type: 'parked';
      readonly sagaId: string;
      readonly saga: string;
      readonly step: string;
    }
  | {
      /** The saga reached a final state, or got stuck. */
      readonly type: 'finished';
      readonly sagaId: string;
      readonly saga: string;
      readonly state: SagaState;
    }
  | {
      /** Another runner holds the saga now; this runner dropped it without writing. */
      readonly type: 'lease-lost';
      readonly sagaId: string;
      readonly saga: string;
    };
