import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { type Clock, flotillaCode, type PipelinePolicy, type PolicyContext } from '@flotilla/resilience';
import type { Pool } from 'undici';
import {
  AttemptSignal,
  type CallCancel,
  combineSignals,
  deadlineError,
  type Watchdog,
} from './call-cancel.js';
import type { CallContext, CallOptions, ClientResponse } from './client-types.js';
import { DEADLINE_HEADER } from './deadline.js';
import { UnknownServiceError } from './discovery.js';
import type { LoadBalancer } from './load-balancer.js';
import type { HttpMethod } from './route.js';
import type { ServiceTokens } from './tokens.js';
import { childContext, formatTraceparent } from './trace-context.js';
import type { ActiveSpan, Tracer } from './tracer.js';
import {
  isNetworkError,
  isUpstreamError,
  parseRetryAfter,
  UpstreamError,
  UpstreamUnavailableError,
} from './upstream-error.js';
import { markNotRetryable } from './upstream-policies.js';

/** The connection pool of one instance and the path prefix of its base URL. */
export interface Connection {
  readonly pool: Pool;
  readonly prefix: string;
}

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Headers the client sets itself; a caller's values for them are dropped. */
const INTERNAL_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'traceparent',
  'x-request-id',
  DEADLINE_HEADER,
  'content-type',
]);
/** Error bodies are read up to this size; the rest is discarded. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The composed policy for one attempt timeout, and the watchdog of that timeout (internal). */
export interface AttemptPolicy {
  readonly policy: PipelinePolicy;
  readonly watchdog: Watchdog;
}

/** What a call needs of the upstream it goes to (internal). */
export interface CallTarget {
  readonly service: string;
  /** True once the clients are closed. */
  readonly closed: boolean;
  /** The upstream's attempt timeout, in milliseconds. */
  readonly timeoutMs: number;
  /** True when calls may wait in the bulkhead's queue (their attempt timeout starts before the work). */
  readonly queues: boolean;
  readonly balancer: LoadBalancer<Connection>;
  readonly tokens: ServiceTokens | undefined;
  readonly tracer: Tracer | undefined;
  readonly clock: Clock;
  /** Wall clock in epoch milliseconds. */
  readonly now: () => number;
  /** Loads the instance list if it is not loaded (or empty); throws discovery's error. */
  ensureInstances(): void;
  /** The composed policy for an attempt timeout (the upstream's own when `undefined`). */
  policyFor(timeoutMs: number | undefined): AttemptPolicy;
}

/**
 * One call: the policies around attempts, each on an instance the balancer picks (internal).
 * Resolves with the response, or with its body alone when `bodyOnly` (saving the shorthand
 * methods a promise per call).
 */
export async function call<T>(
  upstream: CallTarget,
  context: CallContext | undefined,
  method: HttpMethod,
  path: string,
  options: CallOptions<T> = {},
  bodyOnly = false,
): Promise<ClientResponse<T> | T> {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new TypeError(
      `the path of a call to ${upstream.service} must start with "/", got ${JSON.stringify(path)}`,
    );
  if (upstream.closed) throw new Error(`the client of ${upstream.service} is closed`);
  const { service } = upstream;
  const deadline = context?.deadline;
  if (deadline !== undefined && upstream.now() >= deadline) throw deadlineError(service);

  const { policy, watchdog } = upstream.policyFor(options.timeoutMs);
  const cancel = combineSignals(context?.signal, options.signal, deadline, upstream);
  const span = upstream.tracer?.startSpan(`${service} ${method} ${options.route ?? path}`, {
    kind: 'client',
    parent: context?.trace,
    attributes: { 'peer.service': service, 'http.method': method, 'http.target': path },
  });
  let attempt: Attempt<T> | undefined;
  try {
    attempt = new Attempt<T>(
      upstream,
      watchdog,
      method,
      path,
      options,
      context,
      cancel,
      formatTraceparent(span?.context ?? childContext(context?.trace)),
    );
    const started = attempt;
    if (upstream.tokens !== undefined) started.authorize(await upstream.tokens.mint(service, context?.user));
    let response: ClientResponse<unknown>;
    try {
      response = await policy.execute((ctx) => started.run(ctx), cancel?.signal);
    } catch (err) {
      // A retry that ran out of attempts or budget is reported as its last attempt's error, so
      // callers see the upstream's status and code; the retry budget bounds amplification.
      throw flotillaCode(err) === 'RETRIES_EXHAUSTED' ? (err as Error).cause : err;
    }
    if (options.schema !== undefined) response = validate(service, response, options.schema);
    if (span !== undefined) finishSpan(span, started, response.status, undefined);
    return bodyOnly ? (response.body as T) : (response as ClientResponse<T>);
  } catch (err) {
    if (span !== undefined) finishSpan(span, attempt, isUpstreamError(err) ? err.status : undefined, err);
    throw err;
  } finally {
    cancel?.dispose();
  }
}

/** The state one call shares between its attempts. */
class Attempt<T> {
  /**
   * Request headers as undici's flat `[name, value, …]` list, ending with the `authorization`
   * pair (when tokens are minted) and the deadline pair: each attempt writes its own deadline
   * there. (An attempt starts only after the previous one ended, so no request in flight still
   * reads the list.)
   */
  readonly headers: string[];
  private readonly requestPath: string;
  private readonly body: string | null;
  private readonly idempotent: boolean;
  private readonly timeoutMs: number;
  /** The cancellation of the attempt in flight, if any. */
  private current: AttemptSignal | undefined;
  /** Attempts started, for the span. */
  count = 0;
  /** The instance of the latest attempt, for the span. */
  instance: string | undefined;

  constructor(
    private readonly upstream: CallTarget,
    private readonly watchdog: Watchdog,
    private readonly method: HttpMethod,
    path: string,
    options: CallOptions<T>,
    private readonly context: CallContext | undefined,
    /** The call's own cancellation (caller, context, deadline); an attempt's timeout is not in it. */
    private readonly cancel: CallCancel | undefined,
    /** The `traceparent` of the call's span. */
    traceparent: string,
  ) {
    const headers = ['accept', 'application/json', 'traceparent', traceparent];
    let keyed = false;
    if (options.headers !== undefined)
      for (const name of Object.keys(options.headers)) {
        const lower = name.toLowerCase();
        // The client's own headers win over the caller's (`authorization` when it mints tokens,
        // `idempotency-key` when the option gives one).
        if (
          INTERNAL_HEADERS.has(lower) ||
          (lower === 'authorization' && upstream.tokens !== undefined) ||
          (lower === 'idempotency-key' && options.idempotencyKey !== undefined)
        )
          continue;
        headers.push(lower, options.headers[name] as string);
        if (lower === 'idempotency-key') keyed = true;
      }
    headers.push('x-request-id', context?.requestId ?? randomUUID());
    if (options.idempotencyKey !== undefined) {
      headers.push('idempotency-key', options.idempotencyKey);
      keyed = true;
    }
    if (options.body !== undefined) {
      this.body = JSON.stringify(options.body);
      headers.push('content-type', 'application/json');
    } else this.body = null;
    // Value slots filled later: the token once minted, the deadline by each attempt.
    if (upstream.tokens !== undefined) headers.push('authorization', '');
    headers.push(DEADLINE_HEADER, '');
    this.headers = headers;
    this.requestPath = options.query === undefined ? path : withQuery(path, options.query);
    this.idempotent = keyed || IDEMPOTENT.has(method);
    this.timeoutMs = options.timeoutMs ?? upstream.timeoutMs;
    // The policies stop retries and queue waits on the call's signal themselves; the request in
    // flight is stopped from here.
    if (cancel !== undefined) cancel.onAbort = (reason) => this.current?.abort(reason);
  }

  /** Sets the service token (minted asynchronously, so after construction) in its slot. */
  authorize(token: string): void {
    this.headers[this.headers.length - 3] = `Bearer ${token}`;
  }

  /** One attempt, run inside the upstream's policies. */
  run(policy: PolicyContext): Promise<ClientResponse<unknown>> {
    const { upstream } = this;
    this.count = policy.attempt;
    const now = upstream.now();
    const deadline = this.context?.deadline;
    // Never start an attempt the caller no longer waits for (a retry after the deadline).
    if (deadline !== undefined && now >= deadline) return Promise.reject(deadlineError(upstream.service));
    upstream.ensureInstances();
    const endpoint = upstream.balancer.pick();
    if (endpoint === undefined)
      return Promise.reject(
        new UnknownServiceError(upstream.service, `discovery lists no instance of "${upstream.service}"`),
      );
    this.instance = endpoint.url;
    const attemptDeadline = now + this.timeoutMs;
    this.headers[this.headers.length - 1] = String(
      deadline !== undefined && deadline < attemptDeadline ? deadline : attemptDeadline,
    );
    const signal = new AttemptSignal(policy);
    this.current = signal;
    if (this.cancel?.aborted === true) signal.abort(this.cancel.reason);
    else if (upstream.queues) signal.follow();
    else this.watchdog.add(signal);
    return this.send(endpoint, signal);
  }

  private send(endpoint: Endpoint, signal: AttemptSignal): Promise<ClientResponse<unknown>> {
    const { pool, prefix } = endpoint.value;
    return pool
      .request({
        path: prefix === '' ? this.requestPath : prefix + this.requestPath,
        method: this.method,
        headers: this.headers,
        body: this.body,
        signal: signal as unknown as EventEmitter,
      })
      .then(
        (res) => {
          const status = res.statusCode;
          const reading = status < 400 ? res.body.text() : readLimited(res.body, MAX_ERROR_BODY_BYTES);
          return reading.then(
            (text) => this.receive(status, res.headers, text, endpoint, signal),
            (err: unknown) => {
              throw this.fail(err, endpoint, signal);
            },
          );
        },
        (err: unknown) => {
          throw this.fail(err, endpoint, signal);
        },
      );
  }

  /** Ends an attempt that got a whole response. */
  private receive(
    status: number,
    headers: ClientResponse<unknown>['headers'],
    text: string,
    endpoint: Endpoint,
    signal: AttemptSignal,
  ): ClientResponse<unknown> {
    const { upstream } = this;
    this.end(signal);
    upstream.balancer.release(endpoint, status >= 500 ? 'failure' : 'success');
    if (status >= 400) {
      const error = new UpstreamError({
        service: upstream.service,
        status,
        body: parseLenient(text),
        retryAfterMs:
          status === 429 || status === 503
            ? parseRetryAfter(headers['retry-after'], upstream.now())
            : undefined,
      });
      // A request that reached the upstream is never sent twice without an idempotency key.
      if (!this.idempotent) markNotRetryable(error);
      throw error;
    }
    if (text === '') return { status, headers, body: undefined };
    const type = headers['content-type'];
    if (typeof type === 'string' && type.startsWith('text/')) return { status, headers, body: text };
    try {
      return { status, headers, body: JSON.parse(text) };
    } catch (err) {
      throw new UpstreamError({
        service: upstream.service,
        status,
        body: text,
        code: 'BAD_RESPONSE',
        message: `${upstream.service} answered ${status} with a body that is not JSON`,
        cause: err,
      });
    }
  }

  /** Ends a failed attempt: reports it to the balancer and returns the error to throw. */
  private fail(err: unknown, endpoint: Endpoint, signal: AttemptSignal): unknown {
    this.end(signal);
    const { balancer, service } = this.upstream;
    let error: unknown;
    if (signal.aborted) {
      // Aborted: the attempt's timeout counts against the instance, the caller's cancel does not.
      balancer.release(endpoint, this.cancel?.aborted === true ? 'neutral' : 'failure');
      error = signal.reason;
    } else if (isNetworkError(err)) {
      balancer.release(endpoint, 'failure');
      error = new UpstreamUnavailableError(service, endpoint.url, err);
    } else {
      balancer.release(endpoint, 'neutral');
      error = err;
    }
    // The request may have reached the upstream: without an idempotency key it is not sent again.
    if (!this.idempotent) markNotRetryable(error);
    return error;
  }

  private end(signal: AttemptSignal): void {
    this.watchdog.remove(signal);
    signal.dispose();
    if (this.current === signal) this.current = undefined;
  }
}

type Endpoint = { readonly url: string; readonly value: Connection };

function validate<T>(
  service: string,
  response: ClientResponse<unknown>,
  schema: NonNullable<CallOptions<T>['schema']>,
): ClientResponse<T> {
  const result = schema.safeParse(response.body);
  if (result.success) return { status: response.status, headers: response.headers, body: result.data };
  const problems = result.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '(body)' : i.path.join('.')}: ${i.message}`)
    .join('; ');
  throw new UpstreamError({
    service,
    status: response.status,
    body: response.body,
    code: 'BAD_RESPONSE',
    message: `${service} answered ${response.status} with a body that does not match the schema: ${problems}`,
    cause: result.error,
  });
}

function finishSpan(
  span: ActiveSpan,
  attempt: { readonly count: number; readonly instance: string | undefined } | undefined,
  status: number | undefined,
  err: unknown,
): void {
  span.setAttribute('flotilla.attempts', attempt?.count ?? 0);
  if (attempt?.instance !== undefined) span.setAttribute('flotilla.instance', attempt.instance);
  if (status !== undefined) span.setAttribute('http.status_code', status);
  if (err === undefined) {
    span.end('ok');
    return;
  }
  span.setAttribute('error.code', flotillaCode(err) ?? 'INTERNAL');
  span.end('error');
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    // Leaving the loop destroys the stream, so the rest of a huge error page is never read.
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

function parseLenient(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function withQuery(path: string, query: NonNullable<CallOptions['query']>): string {
  let qs = '';
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    qs += `${qs === '' ? '' : '&'}${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`;
  }
  if (qs === '') return path;
  return `${path}${path.includes('?') ? '&' : '?'}${qs}`;
}
