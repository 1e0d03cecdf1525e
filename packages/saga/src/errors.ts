import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from '@flotilla/resilience';

/** A saga definition breaks a rule (a compensatable step without compensation, a retriable step before the pivot, …). */
export class SagaDefinitionError extends FlotillaError {
  override readonly name = 'SagaDefinitionError';
  readonly retryable = false;

  constructor(
    /** The saga's name. */
    readonly saga: string,
    message: string,
  ) {
    super('SAGA_DEFINITION_INVALID', `saga ${saga}: ${message}`);
  }
}

/** True when `err` is a {@link SagaDefinitionError} (from any copy of this package). */
export function isSagaDefinitionError(err: unknown): err is SagaDefinitionError {
  return hasFlotillaCode(err, 'SAGA_DEFINITION_INVALID');
}

/** `start()` named a saga the runner does not know. */
export class UnknownSagaError extends FlotillaError {
  override readonly name = 'UnknownSagaError';
  readonly retryable = false;

  constructor(readonly saga: string) {
    super('SAGA_UNKNOWN', `no saga named ${JSON.stringify(saga)} is registered with this runner`);
  }
}

/** True when `err` is an {@link UnknownSagaError}. */
export function isUnknownSagaError(err: unknown): err is UnknownSagaError {
  return hasFlotillaCode(err, 'SAGA_UNKNOWN');
}

/** No saga instance has this id. */
export class SagaNotFoundError extends FlotillaError {
  override readonly name = 'SagaNotFoundError';
  readonly retryable = false;

  constructor(readonly sagaId: string) {
    super('SAGA_NOT_FOUND', `no saga instance ${sagaId}`);
  }
}

/** True when `err` is a {@link SagaNotFoundError}. */
export function isSagaNotFoundError(err: unknown): err is SagaNotFoundError {
  return hasFlotillaCode(err, 'SAGA_NOT_FOUND');
}

/** An operator action does not fit the saga's state (retrying a saga that is not stuck, …). */
export class SagaStateError extends FlotillaError {
  override readonly name = 'SagaStateError';
  readonly retryable = false;

  constructor(
    readonly sagaId: string,
    /** The saga's state when the action was refused. */
    readonly state: string,
    message: string,
  ) {
    super('SAGA_STATE_CONFLICT', message);
  }
}

/** True when `err` is a {@link SagaStateError}. */
export function isSagaStateError(err: unknown): err is SagaStateError {
  return hasFlotillaCode(err, 'SAGA_STATE_CONFLICT');
}

/**
 * A runner tried to write a checkpoint under a lease it no longer holds (another runner took
 * the saga over, or the instance does not exist). Its transaction was rolled back; the runner
 * drops the saga.
 */
export class SagaLeaseLostError extends FlotillaError {
  override readonly name = 'SagaLeaseLostError';
  readonly retryable = false;

  constructor(
    readonly sagaId: string,
    /** The lease epoch the write was fenced on. */
    readonly epoch: number,
  ) {
    super('SAGA_LEASE_LOST', `lease epoch ${epoch} of saga ${sagaId} is no longer held`);
  }
}

/** True when `err` is a {@link SagaLeaseLostError}. */
export function isSagaLeaseLostError(err: unknown): err is SagaLeaseLostError {
  return hasFlotillaCode(err, 'SAGA_LEASE_LOST');
}

/** The whole-saga deadline passed before the pivot; the saga compensates. */
export class SagaDeadlineError extends FlotillaError {
  override readonly name = 'SagaDeadlineError';
  readonly retryable = false;

  constructor(
    readonly sagaId: string,
    /** The deadline, epoch milliseconds. */
    readonly deadlineAt: number,
    options?: FlotillaErrorOptions,
  ) {
    super('SAGA_DEADLINE_EXCEEDED', `saga ${sagaId} passed its deadline`, options);
  }
}

/** True when `err` is a {@link SagaDeadlineError}. */
export function isSagaDeadlineError(err: unknown): err is SagaDeadlineError {
  return hasFlotillaCode(err, 'SAGA_DEADLINE_EXCEEDED');
}

/** A reply event told the saga its command failed (the reply's `map` threw this or returned a failure). */
export class CommandRejectedError extends FlotillaError {
  override readonly name = 'CommandRejectedError';
  readonly retryable = false;

  constructor(
    readonly sagaId: string,
    readonly step: string,
    message: string,
  ) {
    super('SAGA_COMMAND_REJECTED', `step ${step} of saga ${sagaId}: ${message}`);
  }
}

/** True when `err` is a {@link CommandRejectedError}. */
export function isCommandRejectedError(err: unknown): err is CommandRejectedError {
  return hasFlotillaCode(err, 'SAGA_COMMAND_REJECTED');
}

/** A short text of any thrown value, for the step log. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}

/**
 * The retry hint a failure carries, in milliseconds: the `retryAfterMs` of the error or, when it
 * has none, of the nearest error in its `cause` chain that has one (an open circuit's time to
 * its next probe, an upstream's `Retry-After`). Undefined when none says anything.
 */
export function retryHintMs(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; depth++) {
    const hint = (e as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof hint === 'number' && Number.isFinite(hint) && hint >= 0) return hint;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
