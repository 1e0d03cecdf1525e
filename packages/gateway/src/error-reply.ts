import {
  FlotillaError,
  flotillaCode,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isIsolatedCircuitError,
  isRetriesExhaustedError,
  isTimeoutError,
} from '@flotilla/resilience';
import { isUnknownServiceError, isUpstreamUnavailableError } from '@flotilla/service';

/** An error response the gateway writes itself, in the standard shape. */
export interface ErrorReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  /** Seconds for `Retry-After`. */
  readonly retryAfterSec?: number;
  readonly details?: unknown;
  /** Extra response headers (flat name/value list). */
  readonly headers?: readonly string[];
}

/** The `error.code` of a span: the Flotilla code, else the driver's (`ECONNREFUSED`, `UND_ERR_…`). */
export function spanErrorCode(err: unknown): string {
  const code = flotillaCode(err) ?? (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/** The client stopped waiting (closed the connection) before the response was complete. */
export class ClientClosedError extends FlotillaError {
  override readonly name = 'ClientClosedError';
  readonly retryable = false;

  constructor() {
    super('CLIENT_CLOSED', 'the client closed the connection before the response was complete');
  }
}

/** A request body grew past `limits.bodyBytes`. */
export class BodyTooLargeError extends FlotillaError {
  override readonly name = 'BodyTooLargeError';
  readonly retryable = false;

  constructor(readonly limitBytes: number) {
    super('PAYLOAD_TOO_LARGE', `the request body is larger than ${limitBytes} bytes`);
  }
}

/** The client did not send the body it declared within `limits.bodyTimeoutMs`. */
export class BodyTimeoutError extends FlotillaError {
  override readonly name = 'BodyTimeoutError';
  readonly retryable = true;

  constructor(readonly timeoutMs: number) {
    super('REQUEST_TIMEOUT', `the request body did not arrive within ${timeoutMs} ms`);
  }
}

/** The 408 for a body that did not arrive in time; the connection closes after it. */
export function bodyTimeoutReply(timeoutMs: number): ErrorReply {
  return {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    message: `the request body did not arrive within ${timeoutMs} ms`,
    retryable: true,
    headers: ['connection', 'close'],
  };
}

/**
 * How a failure to get an upstream's answer is told to the client: an open circuit or a full
 * bulkhead is a fast 503 with `Retry-After`, an unreachable upstream a 502, a timeout a 504.
 * `requestTimeoutMs` tells the whole request's timeout from an attempt's.
 */
export function replyForUpstreamError(err: unknown, service: string, requestTimeoutMs: number): ErrorReply {
  const error = isRetriesExhaustedError(err) ? (err as Error).cause : err;
  if (isBrokenCircuitError(error))
    return {
      status: 503,
      code: 'UPSTREAM_CIRCUIT_OPEN',
      message: `${service} is failing; the gateway stopped calling it for a while (circuit open)`,
      retryable: true,
      retryAfterSec: Math.max(1, Math.ceil(error.retryAfterMs / 1000)),
    };
  if (isIsolatedCircuitError(error))
    return {
      status: 503,
      code: 'UPSTREAM_ISOLATED',
      message: `${service} was taken out of service by an operator`,
      retryable: true,
      retryAfterSec: 30,
    };
  if (isBulkheadRejectedError(error))
    return {
      status: 503,
      code: 'UPSTREAM_BUSY',
      message: `${service} has too many requests in flight`,
      retryable: true,
      retryAfterSec: 1,
    };
  if (isTimeoutError(error))
    return error.timeoutMs === requestTimeoutMs
      ? {
          status: 504,
          code: 'GATEWAY_TIMEOUT',
          message: `the request took longer than limits.requestTimeoutMs (${requestTimeoutMs} ms)`,
          retryable: true,
        }
      : {
          status: 504,
          code: 'UPSTREAM_TIMEOUT',
          message: `${service} did not answer within ${error.timeoutMs} ms`,
          retryable: true,
        };
  if (isUpstreamUnavailableError(error))
    return {
      status: 502,
      code: 'UPSTREAM_UNAVAILABLE',
      message: `${service} could not be reached`,
      retryable: true,
    };
  if (isUnknownServiceError(error))
    return {
      status: 503,
      code: 'UPSTREAM_NOT_FOUND',
      message: `no instance of ${service} is known to discovery`,
      retryable: true,
      retryAfterSec: 5,
    };
  if (flotillaCode(error) === 'PAYLOAD_TOO_LARGE')
    return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: (error as Error).message, retryable: false };
  return { status: 502, code: 'BAD_GATEWAY', message: `the call to ${service} failed`, retryable: true };
}

/** The body of an error reply: `{ error: { code, message, details?, retryable } }`. */
export function errorJson(reply: ErrorReply): string {
  return JSON.stringify({
    error:
      reply.details === undefined
        ? { code: reply.code, message: reply.message, retryable: reply.retryable }
        : { code: reply.code, message: reply.message, details: reply.details, retryable: reply.retryable },
  });
}
