export type { CommandMessage, CommandSpec } from './command.js';
export {
  type AnySagaDefinition,
  type CallAction,
  type Compensation,
  type DefineSagaOptions,
  defineSaga,
  type LocalAction,
  type SagaDefinition,
  type StepRetry,
  type StepSpec,
} from './define-saga.js';
export {
  CommandRejectedError,
  isCommandRejectedError,
  isSagaDeadlineError,
  isSagaDefinitionError,
  isSagaLeaseLostError,
  isSagaNotFoundError,
  isSagaStateError,
  isUnknownSagaError,
  SagaDeadlineError,
  SagaDefinitionError,
  SagaLeaseLostError,
  SagaNotFoundError,
  SagaStateError,
  UnknownSagaError,
} from './errors.js';
export {
  type IdempotencyPruner,
  type IdempotencyPrunerOptions,
  idempotencyPruner,
  type PruneIdempotencyKeysOptions,
  pruneIdempotencyKeys,
} from './idempotency-pruner.js';
export { type IdempotentOptions, idempotent } from './idempotent.js';
export type { SagaLogger } from './logger.js';
export {
  type IdempotencyTable,
  type IdempotencyTables,
  idempotencyMigrations,
  type LoggedAttempt,
  type SagaInstanceTable,
  type SagaTables,
  sagaMigrations,
} from './migrations.js';
export type { SagaRunnerOptions } from './runner-options.js';
export type { SagaEvent } from './saga-events.js';
export type { SagaAttempt, SagaDetails, SagaListQuery, SagaPage, SagaSummary } from './saga-queries.js';
export { type SagaRoutesOptions, sagaRoutes } from './saga-routes.js';
export {
  createSagaRunner,
  type SagaRunner,
  type StartSagaOptions,
  type UnmatchedInstances,
} from './saga-runner.js';
export { type SagaDirection, SagaState, StepKind } from './states.js';
export type { StepContext } from './step-context.js';
export type { SagaSpan, SagaTracer } from './trace.js';
