/**
 * The states of a saga instance, persisted as these strings (never numbers) in
 * `flotilla_saga_instances.state`.
 * - `running`: executing its steps forward (or due to, after a retry delay).
 * - `waiting`: parked on an asynchronous command until its reply or its timeout; no lease held.
 * - `compensating`: a step failed; completed steps are being compensated in reverse.
 * - `completed`: every step succeeded (terminal).
 * - `compensated`: a step failed and every needed compensation succeeded (terminal).
 * - `stuck`: a compensation (or a retriable step) kept failing; waits for an operator.
 * - `resolved`: an operator closed a stuck saga by hand (terminal).
 */
export const SagaState = {
  running: 'running',
  waiting: 'waiting',
  compensating: 'compensating',
  completed: 'completed',
  compensated: 'compensated',
  stuck: 'stuck',
  resolved: 'resolved',
} as const;

/** One of {@link SagaState}. */
export type SagaState = (typeof SagaState)[keyof typeof SagaState];

/** Every state, for validation of rows read back. */
export const SAGA_STATES: readonly SagaState[] = Object.values(SagaState);

/** States a runner may still act on. */
export const ACTIVE_STATES: readonly SagaState[] = ['running', 'waiting', 'compensating'];

/** Whether `state` is final (nothing will happen to the saga any more). */
export function isTerminal(state: SagaState): boolean {
  return state === 'completed' || state === 'compensated' || state === 'resolved';
}

/**
 * Step kinds as the saga literature names them (Garcia-Molina & Salem; Richardson):
 * - `compensatable`: can be undone; has a compensation; comes before the pivot.
 * - `pivot`: the point of no return; not compensated; once it succeeds the saga completes.
 * - `retriable`: after the pivot; retried until it succeeds, never compensated.
 */
export const StepKind = {
  compensatable: 'compensatable',
  pivot: 'pivot',
  retriable: 'retriable',
} as const;

/** One of {@link StepKind}. */
export type StepKind = (typeof StepKind)[keyof typeof StepKind];

/** Which way a saga is moving: through its actions, or back through compensations. */
export type SagaDirection = 'forward' | 'backward';

/**
 * Version of the persisted instance format. A row of another format is never resumed by this
 * code (it is reported as unmatched), so a format change cannot be misread.
 */
export const INSTANCE_FORMAT = 1;
