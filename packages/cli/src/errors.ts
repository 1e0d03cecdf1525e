import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from '@flotilla/resilience';

/** One problem found in a system definition: the key it concerns and what is wrong with it. */
export interface SystemProblem {
  /** The key, as a path into the definition: `services[1].port`, `profiles.distributed.env`. */
  readonly path: string;
  /** What is wrong, with the offending value where it helps. */
  readonly message: string;
}

/**
 * Raised when a system definition cannot be loaded or is invalid. `problems` names every bad key;
 * the message lists them, one a line.
 */
export class SystemDefinitionError extends FlotillaError {
  override readonly name = 'SystemDefinitionError';
  readonly retryable = false;

  constructor(
    /** Where the definition came from: a file path, or `system definition`. */
    readonly source: string,
    /** Every problem found. */
    readonly problems: readonly SystemProblem[],
    options?: FlotillaErrorOptions,
  ) {
    super(
      'SYSTEM_INVALID',
      `${source} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      options,
    );
  }
}

/** True when `err` is a {@link SystemDefinitionError} (from any copy of this package). */
export function isSystemDefinitionError(err: unknown): err is SystemDefinitionError {
  return hasFlotillaCode(err, 'SYSTEM_INVALID');
}

/** Why `up` failed: see {@link SystemStartError}. */
export type StartFailureReason = 'not-ready' | 'crashed' | 'port-in-use' | 'aborted';

/**
 * Raised when a system does not come up: a critical service did not become ready in time,
 * crashed repeatedly at start, or found its port taken. The message names the service and ends
 * with the last lines of its output.
 */
export class SystemStartError extends FlotillaError {
  override readonly name = 'SystemStartError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The service that failed. */
    readonly service: string,
    /** Its instance (0 for single-instance services). */
    readonly instance: number,
    readonly reason: StartFailureReason,
    /** The last lines the instance wrote, oldest first. */
    readonly lastLines: readonly string[],
    options?: FlotillaErrorOptions,
  ) {
    super('SYSTEM_START_FAILED', message, options);
  }
}

/** True when `err` is a {@link SystemStartError} (from any copy of this package). */
export function isSystemStartError(err: unknown): err is SystemStartError {
  return hasFlotillaCode(err, 'SYSTEM_START_FAILED');
}

/**
 * Raised when an operation needs the data directory to itself and a supervisor holds it:
 * a second `up` of the same system, or `reset` while `up` runs.
 */
export class SystemRunningError extends FlotillaError {
  override readonly name = 'SystemRunningError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The process id of the running supervisor. */
    readonly pid: number,
    /** The data directory it holds. */
    readonly dataDir: string,
  ) {
    super('SYSTEM_RUNNING', message);
  }
}

/** True when `err` is a {@link SystemRunningError} (from any copy of this package). */
export function isSystemRunningError(err: unknown): err is SystemRunningError {
  return hasFlotillaCode(err, 'SYSTEM_RUNNING');
}

/** Raised by control commands when no supervisor runs for the system (no live lock file). */
export class SystemNotRunningError extends FlotillaError {
  override readonly name = 'SystemNotRunningError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The data directory that was searched. */
    readonly dataDir: string,
  ) {
    super('SYSTEM_NOT_RUNNING', message);
  }
}

/** True when `err` is a {@link SystemNotRunningError} (from any copy of this package). */
export function isSystemNotRunningError(err: unknown): err is SystemNotRunningError {
  return hasFlotillaCode(err, 'SYSTEM_NOT_RUNNING');
}

/** Raised when the control API answers a request with an error (unknown service, bad token, …). */
export class ControlApiError extends FlotillaError {
  override readonly name = 'ControlApiError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The HTTP status of the answer. */
    readonly status: number,
    /** The error code the control API sent, e.g. `UNKNOWN_SERVICE`. */
    readonly apiCode: string,
  ) {
    super('CONTROL_API_ERROR', message);
  }
}

/** True when `err` is a {@link ControlApiError} (from any copy of this package). */
export function isControlApiError(err: unknown): err is ControlApiError {
  return hasFlotillaCode(err, 'CONTROL_API_ERROR');
}

/** Raised when a file the supervisor keeps in the data directory is unreadable or corrupt. */
export class DataDirError extends FlotillaError {
  override readonly name = 'DataDirError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The file concerned. */
    readonly file: string,
    options?: FlotillaErrorOptions,
  ) {
    super('DATA_DIR_INVALID', message, options);
  }
}

/** True when `err` is a {@link DataDirError} (from any copy of this package). */
export function isDataDirError(err: unknown): err is DataDirError {
  return hasFlotillaCode(err, 'DATA_DIR_INVALID');
}

/** Why the supervisor refused a control command. */
export type ControlCommandRejection =
  | 'unknown-service'
  | 'unknown-instance'
  | 'not-running'
  | 'not-frozen'
  | 'system-stopping';

/** Raised by the supervisor's control operations for a command it cannot carry out. */
export class ControlCommandError extends FlotillaError {
  override readonly name = 'ControlCommandError';
  readonly retryable = false;

  constructor(
    message: string,
    readonly reason: ControlCommandRejection,
  ) {
    super('CONTROL_COMMAND_REJECTED', message);
  }
}

/** True when `err` is a {@link ControlCommandError} (from any copy of this package). */
export function isControlCommandError(err: unknown): err is ControlCommandError {
  return hasFlotillaCode(err, 'CONTROL_COMMAND_REJECTED');
}
