import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from '@flotilla/resilience';

/** One problem found while validating an envelope or an event's data. */
export interface ValidationIssue {
  /** Where, as a dotted path from the checked value (`"data.items.0.sku"`); empty for the value itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * Raised when an event does not match its contract: on `publish` (the data the caller gave), or
 * on receipt (a malformed envelope or data, which is then dead-lettered at once as a poison
 * message). Not retryable: the same input fails the same way.
 */
export class EventValidationError extends FlotillaError {
  override readonly name = 'EventValidationError';
  readonly retryable = false;

  constructor(
    /** The event type, or `"(unknown)"` when the envelope had none. */
    readonly eventType: string,
    /** `"publish"` or `"receive"`. */
    readonly phase: 'publish' | 'receive',
    /** What is wrong, at most 20 issues. */
    readonly issues: readonly ValidationIssue[],
    options?: FlotillaErrorOptions,
  ) {
    super(
      'EVENT_VALIDATION_FAILED',
      `${eventType} ${phase === 'publish' ? 'cannot be published' : 'was received malformed'}: ${issues
        .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
        .join('; ')}`,
      options,
    );
  }
}

/** True when `err` is an {@link EventValidationError} (from any copy of this package). */
export function isEventValidationError(err: unknown): err is EventValidationError {
  return hasFlotillaCode(err, 'EVENT_VALIDATION_FAILED');
}

/**
 * Raised on receipt of an event whose schema version is newer than the consumer's contract
 * (a producer was upgraded first). Retryable: it is retried with backoff, so a consumer upgraded
 * within its retries handles it; otherwise it is dead-lettered and can be replayed after the upgrade.
 */
export class UnsupportedSchemaVersionError extends FlotillaError {
  override readonly name = 'UnsupportedSchemaVersionError';
  readonly retryable = true;

  constructor(
    readonly eventType: string,
    /** The version in the envelope. */
    readonly receivedVersion: number,
    /** The newest version this consumer knows. */
    readonly knownVersion: number,
  ) {
    super(
      'EVENT_SCHEMA_VERSION_UNSUPPORTED',
      `${eventType} has schema version ${receivedVersion}, but this consumer knows versions up to ${knownVersion} (upgrade the consumer)`,
    );
  }
}

/** True when `err` is an {@link UnsupportedSchemaVersionError} (from any copy of this package). */
export function isUnsupportedSchemaVersionError(err: unknown): err is UnsupportedSchemaVersionError {
  return hasFlotillaCode(err, 'EVENT_SCHEMA_VERSION_UNSUPPORTED');
}

/**
 * Raised by `publish` for an event the bus was not told about (`createEventBus({ events })`), or
 * whose contract conflicts with another of the same type. Not retryable: a programming error.
 */
export class UnknownEventError extends FlotillaError {
  override readonly name = 'UnknownEventError';
  readonly retryable = false;

  constructor(
    readonly eventType: string,
    message: string,
  ) {
    super('UNKNOWN_EVENT', message);
  }
}

/** True when `err` is an {@link UnknownEventError} (from any copy of this package). */
export function isUnknownEventError(err: unknown): err is UnknownEventError {
  return hasFlotillaCode(err, 'UNKNOWN_EVENT');
}

/** Raised when the bus is used after `close()` began. Not retryable. */
export class EventBusClosedError extends FlotillaError {
  override readonly name = 'EventBusClosedError';
  readonly retryable = false;

  constructor(
    /** The service of the bus. */
    readonly service: string,
    /** What was attempted, e.g. `"start"`. */
    readonly operation: string,
  ) {
    super('EVENT_BUS_CLOSED', `the event bus of ${service} is closed (${operation})`);
  }
}

/** True when `err` is an {@link EventBusClosedError} (from any copy of this package). */
export function isEventBusClosedError(err: unknown): err is EventBusClosedError {
  return hasFlotillaCode(err, 'EVENT_BUS_CLOSED');
}

/** Raised when a dead letter does not exist (never did, or was replayed or discarded). Not retryable. */
export class DeadLetterNotFoundError extends FlotillaError {
  override readonly name = 'DeadLetterNotFoundError';
  readonly retryable = false;

  constructor(readonly deadLetterId: string) {
    super('DEAD_LETTER_NOT_FOUND', `dead letter ${deadLetterId} does not exist (replayed or discarded?)`);
  }
}

/** True when `err` is a {@link DeadLetterNotFoundError} (from any copy of this package). */
export function isDeadLetterNotFoundError(err: unknown): err is DeadLetterNotFoundError {
  return hasFlotillaCode(err, 'DEAD_LETTER_NOT_FOUND');
}

/**
 * Raised by `deadLetters.replay(id)` when the handler failed again (its error is the `cause`).
 * The dead letter stays, with the new error and one more attempt recorded. Retryable: replay
 * again once the cause is fixed.
 */
export class DeadLetterReplayError extends FlotillaError {
  override readonly name = 'DeadLetterReplayError';
  readonly retryable = true;

  constructor(
    readonly deadLetterId: string,
    /** Attempts so far, this replay included. */
    readonly attempts: number,
    options?: FlotillaErrorOptions,
  ) {
    super(
      'DEAD_LETTER_REPLAY_FAILED',
      `replaying dead letter ${deadLetterId} failed (attempt ${attempts}): ${messageOf(options?.cause)}`,
      options,
    );
  }
}

/** True when `err` is a {@link DeadLetterReplayError} (from any copy of this package). */
export function isDeadLetterReplayError(err: unknown): err is DeadLetterReplayError {
  return hasFlotillaCode(err, 'DEAD_LETTER_REPLAY_FAILED');
}

/** The message of any thrown value. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : String(err);
}
