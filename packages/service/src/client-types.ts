import type { PolicySnapshot, RetryBudgetSnapshot } from '@flotilla/resilience';
import type { z } from 'zod';
import type { HttpMethod } from './route.js';
import type { EndUser } from './tokens.js';
import type { TraceContext } from './trace-context.js';

/** Options of one call made with a {@link ServiceClient}. */
export interface CallOptions<T = unknown> {
  /** Query string parameters; `undefined` values are left out. */
  query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** A JSON body. */
  body?: unknown;
  /** Extra request headers. Internal headers (`authorization`, trace, deadline) are set by the client. */
  headers?: Readonly<Record<string, string>>;
  /** Sent as `Idempotency-Key`; makes a POST/PATCH retryable. */
  idempotencyKey?: string;
  /** Cancels the call (and its retries). */
  signal?: AbortSignal;
  /** Validates the 2xx response body; a mismatch is an `UpstreamError` with code `BAD_RESPONSE`. */
  schema?: z.ZodType<T>;
  /** Per-attempt timeout for this call, in milliseconds, instead of the upstream's default. */
  timeoutMs?: number;
  /**
   * The path's pattern, e.g. `/payments/:id`: names the call's span (`"payment GET /payments/:id"`)
   * so that span names stay few, as OpenTelemetry asks; the concrete path is the span's
   * `http.target` either way.
   * @default the path itself
   */
  route?: string;
}

/** A successful (2xx/3xx) response. Error statuses are thrown as `UpstreamError`. */
export interface ClientResponse<T> {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: T;
}

/** What a call carries from the request that makes it. */
export interface CallContext {
  /** The caller's span: the call becomes its child. */
  readonly trace?: TraceContext | undefined;
  /** The caller's deadline, epoch ms: the call sends the remaining budget and never waits past it. */
  readonly deadline?: number | undefined;
  /** The end user the call is made for (goes into the signed service token). */
  readonly user?: EndUser | undefined;
  /** Cancellation of the whole request. */
  readonly signal?: AbortSignal | undefined;
  /** The originating request id, forwarded as `x-request-id`. */
  readonly requestId?: string | undefined;
}

/**
 * A typed HTTP/JSON client for one upstream service, with discovery, load balancing and the
 * upstream's resilience policies applied to every call.
 */
export interface ServiceClient {
  /** The upstream service's name. */
  readonly service: string;
  /** Makes a call and returns the whole 2xx/3xx response; error statuses reject with `UpstreamError`. */
  request<T = unknown>(
    method: HttpMethod,
    path: string,
    options?: CallOptions<T>,
  ): Promise<ClientResponse<T>>;
  /** GET, returning the parsed body. */
  get<T = unknown>(path: string, options?: CallOptions<T>): Promise<T>;
  /** POST, returning the parsed body. */
  post<T = unknown>(path: string, options?: CallOptions<T>): Promise<T>;
  /** PUT, returning the parsed body. */
  put<T = unknown>(path: string, options?: CallOptions<T>): Promise<T>;
  /** PATCH, returning the parsed body. */
  patch<T = unknown>(path: string, options?: CallOptions<T>): Promise<T>;
  /** DELETE, returning the parsed body. */
  delete<T = unknown>(path: string, options?: CallOptions<T>): Promise<T>;
  /** The same client, bound to a request's context (trace, deadline, user, cancellation). */
  with(context: CallContext): ServiceClient;
}

/** Health of one upstream as a dashboard shows it. */
export interface UpstreamSnapshot {
  readonly service: string;
  /** The upstream's policies (retry, breaker, timeout, bulkhead), outermost first. */
  readonly policy: PolicySnapshot;
  /** Every known instance with its load-balancing state. */
  readonly instances: ReadonlyArray<{
    readonly url: string;
    readonly outstanding: number;
    readonly ejected: boolean;
    readonly ejectedUntilMs?: number;
  }>;
  /** The upstream's retry budget over its current window, when it has one. */
  readonly retryBudget?: RetryBudgetSnapshot;
}

/** The clients of one service, one per upstream, created on first use. */
export interface Clients {
  /** The (unbound) client for `service`. */
  get(service: string): ServiceClient;
  /** Snapshots of every upstream used so far. */
  snapshots(): UpstreamSnapshot[];
  /** Closes every connection pool. */
  close(): Promise<void>;
}
