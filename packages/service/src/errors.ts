import { FlotillaError, flotillaCode } from '@flotilla/resilience';

/** Registered brand, so the guard recognises service errors from another copy of this package. */
const SERVICE_ERROR = Symbol.for('flotilla.service-error');

/** The body of every error response: `{ error: { code, message, details?, retryable } }`. */
export interface ErrorBody {
  readonly error: {
    /** Stable machine-readable code, e.g. `"VALIDATION_FAILED"`, `"NOT_FOUND"`. */
    readonly code: string;
    /** A sentence for humans. Never a stack trace. */
    readonly message: string;
    /** Structured detail, e.g. which fields failed validation and why. */
    readonly details?: unknown;
    /** Whether repeating the same request later may succeed. */
    readonly retryable: boolean;
  };
}

/** Options of {@link ServiceError}. */
export interface ServiceErrorOptions {
  /** Structured detail sent to the client. */
  details?: unknown;
  /**
   * Whether the client may retry.
   * @default true for 408, 429 and 5xx statuses, false otherwise
   */
  retryable?: boolean;
  /** Seconds for a `Retry-After` header (with 429 and 503). */
  retryAfterSeconds?: number;
  /** The underlying error (logged, never sent). */
  cause?: unknown;
}

/**
 * An error a handler throws to answer with a given status and code:
 * `throw new ServiceError(404, 'ORDER_NOT_FOUND', 'no order abc')`. Anything else a handler
 * throws becomes a 500 with a generic message (and is logged with the request id).
 */
export class ServiceError extends FlotillaError {
  override readonly name = 'ServiceError';
  readonly retryable: boolean;
  /** Structured detail sent to the client. */
  readonly details: unknown;
  /** Seconds for a `Retry-After` header, if any. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    /** HTTP status to answer with (400–599). */
    readonly status: number,
    code: string,
    message: string,
    options: ServiceErrorOptions = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new RangeError(`ServiceError status must be an integer in 400..599, got ${status}`);
    this.retryable = options.retryable ?? (status === 408 || status === 429 || status >= 500);
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    Object.defineProperty(this, SERVICE_ERROR, { value: true, enumerable: false });
  }

  /** The response body for this error. */
  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.retryable, this.details);
  }
}

/** True when `err` is a {@link ServiceError} (from any copy of this package). */
export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[SERVICE_ERROR] === true;
}

/** Builds an error body. */
export function errorBody(code: string, message: string, retryable: boolean, details?: unknown): ErrorBody {
  return {
    error: details === undefined ? { code, message, retryable } : { code, message, details, retryable },
  };
}

/** Shorthands for the errors every service answers. */
export const errors = {
  /** 400 VALIDATION_FAILED with per-field details. */
  validation: (message: string, details?: unknown) =>
    new ServiceError(400, 'VALIDATION_FAILED', message, { details, retryable: false }),
  /** 401 UNAUTHENTICATED. */
  unauthenticated: (message = 'a valid service token is required') =>
    new ServiceError(401, 'UNAUTHENTICATED', message),
  /** 403 FORBIDDEN. */
  forbidden: (message = 'not allowed') => new ServiceError(403, 'FORBIDDEN', message),
  /** 404 with a specific code, e.g. `notFound('ORDER_NOT_FOUND', 'no order 42')`. */
  notFound: (code = 'NOT_FOUND', message = 'not found') => new ServiceError(404, code, message),
  /** 409 with a specific code. */
  conflict: (code: string, message: string, details?: unknown) =>
    new ServiceError(409, code, message, { details }),
  /** 503 UNAVAILABLE with a Retry-After. */
  unavailable: (message: string, retryAfterSeconds = 1) =>
    new ServiceError(503, 'UNAVAILABLE', message, { retryAfterSeconds }),
} as const;

/** The error code of anything thrown: a Flotilla code, else `INTERNAL`. */
export function codeOf(err: unknown): string {
  return flotillaCode(err) ?? 'INTERNAL';
}
