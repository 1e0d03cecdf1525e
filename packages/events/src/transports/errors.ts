import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from '@flotilla/resilience';

/** Raised by `publish`, `subscribe` or `lag` after the transport was closed. Not retryable. */
export class TransportClosedError extends FlotillaError {
  override readonly name = 'TransportClosedError';
  readonly retryable = false;

  constructor(
    /** The transport's kind (`"memory"`, `"embedded"`, `"nats"`). */
    readonly transport: string,
    options?: FlotillaErrorOptions,
  ) {
    super('TRANSPORT_CLOSED', `the ${transport} transport is closed`, options);
  }
}

/** True when `err` is a {@link TransportClosedError} (from any copy of this package). */
export function isTransportClosedError(err: unknown): err is TransportClosedError {
  return hasFlotillaCode(err, 'TRANSPORT_CLOSED');
}

/**
 * Raised when the broker or the log cannot be reached or did not confirm an operation in time
 * (`publish` may then have stored some of the messages; publishing them again with the same
 * ids is safe). `retryable`: the same call may succeed once the broker is back.
 */
export class TransportUnavailableError extends FlotillaError {
  override readonly name = 'TransportUnavailableError';
  readonly retryable = true;

  constructor(
    /** The transport's kind. */
    readonly transport: string,
    /** What failed, e.g. `"publish"`, `"check"`. */
    readonly operation: string,
    message: string,
    options?: FlotillaErrorOptions,
  ) {
    super('TRANSPORT_UNAVAILABLE', `${transport} transport: ${operation} failed: ${message}`, options);
  }
}

/** True when `err` is a {@link TransportUnavailableError} (from any copy of this package). */
export function isTransportUnavailableError(err: unknown): err is TransportUnavailableError {
  return hasFlotillaCode(err, 'TRANSPORT_UNAVAILABLE');
}

/**
 * Raised on start when existing storage (an embedded log file, a JetStream stream) was created
 * with settings this transport cannot work with, e.g. another partition count. Nothing is
 * changed; fix the configuration or migrate the storage. Not retryable.
 */
export class IncompatibleTransportError extends FlotillaError {
  override readonly name = 'IncompatibleTransportError';
  readonly retryable = false;

  constructor(
    /** The transport's kind. */
    readonly transport: string,
    /** The storage that does not fit: a file path or a stream name. */
    readonly resource: string,
    /** The setting that differs, e.g. `"partitions"`. */
    readonly setting: string,
    /** What this transport was configured with. */
    readonly expected: string,
    /** What the storage has. */
    readonly actual: string,
    options?: FlotillaErrorOptions,
  ) {
    super(
      'INCOMPATIBLE_TRANSPORT',
      `${transport} transport: ${resource} has ${setting} ${actual}, but this transport is configured with ${expected}`,
      options,
    );
  }
}

/** True when `err` is an {@link IncompatibleTransportError} (from any copy of this package). */
export function isIncompatibleTransportError(err: unknown): err is IncompatibleTransportError {
  return hasFlotillaCode(err, 'INCOMPATIBLE_TRANSPORT');
}
