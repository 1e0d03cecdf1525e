import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';
import type { ErrorBody } from './errors.js';

/** Registered brand, so {@link isUpstreamError} recognises errors from another copy of this package. */
const UPSTREAM_ERROR = Symbol.for('flotilla.upstream-error');

/** Statuses after which the same request may succeed later. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/** Options of {@link UpstreamError}. */
export interface UpstreamErrorOptions {
  /** The upstream service that answered. */
  service: string;
  /** The HTTP status it answered with. */
  status: number;
  /** The parsed response body (JSON), or its text when it is not JSON, or `undefined` when empty. */
  body?: unknown;
  /** The `Retry-After` hint, in milliseconds. */
  retryAfterMs?: number | undefined;
  /**
   * The error code.
   * @default the upstream's `error.code` when the body is the standard error body, else `'UPSTREAM_ERROR'`
   */
  code?: string;
  /** A sentence for humans. @default built from the status and the upstream's message */
  message?: string;
  /** The underlying error (a schema mismatch, say). */
  cause?: unknown;
}

/**
 * An upstream answered with an error status (4xx/5xx), or with a 2xx body that does not match
 * the call's schema (code `BAD_RESPONSE`). Its `code` is the upstream's own error code when the
 * body is the standard `{ error: { code, message, details, retryable } }`, so callers can branch
 * on `err.code === 'ORDER_NOT_FOUND'` as if the error had been raised locally.
 */
export class UpstreamError extends FlotillaError {
  override readonly name = 'UpstreamError';
  /** True for 408, 429, 502, 503 and 504: the same request may succeed later. */
  readonly retryable: boolean;
  /** The upstream service. */
  readonly service: string;
  /** The HTTP status of the response. */
  readonly status: number;
  /** The parsed error body (usually an {@link ErrorBody}), or its text when it is not JSON. */
  readonly body: unknown;
  /** How long the upstream asked us to wait (`Retry-After`), in milliseconds, if it did. */
  readonly retryAfterMs: number | undefined;

  constructor(options: UpstreamErrorOptions) {
    const standard = standardError(options.body);
    const code = options.code ?? standard?.code ?? 'UPSTREAM_ERROR';
    super(
      code,
      options.message ??
        `${options.service} answered ${options.status}${standard === undefined ? '' : ` ${standard.code}: ${standard.message}`}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.service = options.service;
    this.status = options.status;
    this.body = options.body;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = RETRYABLE_STATUSES.has(options.status);
    Object.defineProperty(this, UPSTREAM_ERROR, { value: true, enumerable: false });
  }

  /** The upstream's standard error (`body.error`), when its body had that shape. */
  get upstream(): ErrorBody['error'] | undefined {
    return standardError(this.body);
  }
}

/** True when `err` is an {@link UpstreamError} (from any copy of this package), whatever its code. */
export function isUpstreamError(err: unknown): err is UpstreamError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[UPSTREAM_ERROR] === true;
}

/**
 * The upstream could not be reached or dropped the connection: connection refused or reset,
 * socket closed, DNS failure. Retryable: another attempt (on another instance) may get through.
 */
export class UpstreamUnavailableError extends FlotillaError {
  override readonly name = 'UpstreamUnavailableError';
  readonly retryable = true;

  constructor(
    /** The upstream service. */
    readonly service: string,
    /** The instance's base URL that failed. */
    readonly instance: string,
    /** The network error (its `code`, e.g. `ECONNREFUSED`, is in the message). */
    cause: unknown,
  ) {
    super('UPSTREAM_UNAVAILABLE', `${service} is unavailable at ${instance}: ${describe(cause)}`, { cause });
  }
}

/** True when `err` is an {@link UpstreamUnavailableError} (from any copy of this package). */
export function isUpstreamUnavailableError(err: unknown): err is UpstreamUnavailableError {
  return hasFlotillaCode(err, 'UPSTREAM_UNAVAILABLE');
}

/**
 * Parses a `Retry-After` header (delay in seconds, or an HTTP date) into milliseconds from
 * `nowMs`; `undefined` when absent or malformed. A date in the past means "now" (0).
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // HTTP dates start with the day's name ("Wed, 21 Oct 2015 07:28:00 GMT", or an obsolete form);
  // Date.parse alone would also take "-1" for a year.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The `error` member of a standard error body, or `undefined` when `body` has another shape. */
function standardError(body: unknown): ErrorBody['error'] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && code !== '' && typeof message === 'string'
    ? (error as ErrorBody['error'])
    : undefined;
}

function describe(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : 'network error';
  return typeof code === 'string' && !text.includes(code) ? `${code} ${text}` : text;
}

/** Codes of errors that mean the instance could not be reached or dropped the connection. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Whether `err` means an instance could not be reached or dropped the connection (internal). */
export function isNetworkError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}
