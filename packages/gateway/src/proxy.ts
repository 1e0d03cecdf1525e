import type { Readable } from 'node:stream';
import { isTimeoutError, type PolicyContext } from '@flotilla/resilience';
import {
  type ActiveSpan,
  formatTraceparent,
  UnknownServiceError,
  UpstreamUnavailableError,
} from '@flotilla/service';
import type { Dispatcher } from 'undici';
import { bodyTimeoutReply, ClientClosedError, replyForUpstreamError, spanErrorCode } from './error-reply.js';
import { CLIENT_CLOSED_STATUS, type Exchange } from './exchange.js';
import { ResponseHeadInfo, responseHeaders } from './headers.js';
import { applyRewrite } from './path-pattern.js';
import { type ShadowPlan, sendShadowCopy } from './shadow-copy.js';
import { type CompiledTarget, clientSpanName } from './snapshot.js';
import { type Connection, markCallerFault, markNotRetryable } from './upstream-pool.js';

/**
 * Streaming forwarding of one request to its upstream (internal). Each attempt is one undici
 * `Pool.dispatch` with a small handler object: response headers are converted once and written
 * with `writeHead`, body chunks go straight to the client socket with backpressure, nothing is
 * buffered. The request runs in the upstream's pipeline (request timeout > retry > breaker >
 * bulkhead > attempt timeout); an attempt may be retried only while no byte of the response was
 * sent to the client. Each attempt that reaches an instance records a client span (child of the
 * request's server span) that ends with the attempt.
 */

/** Responses captured for a shadow comparison stop being captured past this size. */
const CAPTURE_LIMIT_BYTES = 1024 * 1024;

/** Codes of network errors: the instance could not be reached or dropped the connection. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isNetworkError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/** One proxied request: its upstream request and the attempts that carry it. */
export class Forward {
  readonly headers: string[];
  private readonly deadlineSlot: number;
  /** Where the `traceparent` value is in {@link headers}: each attempt sends its own client span. */
  private readonly traceSlot: number;
  private readonly upstreamPath: string;
  /** The client spans' name, `"<service> <METHOD> <pattern>"`; made at the first attempt. */
  private spanName: string | undefined = undefined;
  private current: Attempt | undefined = undefined;
  /** The response was ended by the gateway (a single-chunk body ends with its chunk). */
  private ended = false;
  private readonly info = new ResponseHeadInfo();
  private captured: Buffer[] | undefined = undefined;
  private capturedBytes = 0;
  private sentBytes = 0;

  /** Runs one attempt (the work of the pipeline). */
  readonly run = (policy: PolicyContext): Promise<number> => this.attempt(policy.attempt);
  private readonly whole = (): Promise<number> => {
    const { upstream } = this.target;
    return (this.retryable ? upstream.retrying : upstream.once).execute(this.run);
  };
  private readonly settle = (status: number): void => this.settled(status);
  private readonly fail = (err: unknown): void => this.failed(err);

  constructor(
    readonly ex: Exchange,
    readonly target: CompiledTarget,
    private readonly body: Buffer | Readable | null,
    private readonly retryable: boolean,
    private readonly shadow: ShadowPlan | undefined,
    /** The `authorization` value for the upstream, when it gets a service token. */
    token: string | undefined,
  ) {
    const { head, req } = ex;
    ex.target = target;
    const hit = ex.hit;
    this.upstreamPath =
      target.rewrite === undefined || hit === undefined
        ? ex.path + ex.query
        : applyRewrite(target.rewrite, hit.values, hit.rest) + ex.query;
    // The client's forwarded headers, then the gateway's own.
    const headers = head.out;
    const remote = req.socket.remoteAddress ?? '';
    const trust = ex.ctx.trustProxy;
    headers.push(
      'x-forwarded-for',
      trust && head.forwardedFor !== undefined ? `${head.forwardedFor}, ${remote}` : remote,
      'x-forwarded-proto',
      trust && head.forwardedProto !== undefined ? head.forwardedProto : 'http',
      'x-forwarded-host',
      (trust ? head.forwardedHost : undefined) ?? head.host ?? '',
      'x-request-id',
      ex.requestId,
      'traceparent',
      ex.traceparent,
    );
    this.traceSlot = headers.length - 1;
    if (token !== undefined) headers.push('authorization', token);
    headers.push('x-request-deadline', '');
    this.deadlineSlot = headers.length - 1;
    for (let i = 0; i < target.set.length; i++) headers.push(target.set[i] as string);
    this.headers = headers;
    if (shadow !== undefined) this.captured = [];
  }

  /** Sends the request through the upstream's pipeline. */
  start(): void {
    // The request timeout runs its own execution around the upstream's pipeline: nested in one
    // pipeline, the inner timeout would create an abort signal per request to follow the outer one.
    const { requestTimeout } = this.target;
    (requestTimeout === undefined ? this.whole() : requestTimeout.execute(this.whole)).then(
      this.settle,
      this.fail,
    );
  }

  private attempt(number: number): Promise<number> {
    const { upstream } = this.target;
    // An attempt that outlived its timeout is stopped before the next one starts.
    this.current?.cancel(undefined);
    if (this.ex.clientGone) return Promise.reject(markCallerFault(new ClientClosedError()));
    if (number > 1 && this.body !== null && !Buffer.isBuffer(this.body))
      return Promise.reject(markNotRetryable(new Error('a streamed body cannot be sent twice')));
    try {
      upstream.ensureInstances();
    } catch (err) {
      return Promise.reject(err);
    }
    const endpoint = upstream.balancer.pick();
    if (endpoint === undefined)
      return Promise.reject(
        new UnknownServiceError(upstream.service, `discovery lists no instance of "${upstream.service}"`),
      );
    const { ex } = this;
    const span = ex.ctx.tracer.startSpan(this.clientSpanName(), {
      kind: 'client',
      parent: ex.span?.context,
      attributes: {
        'peer.service': upstream.service,
        'http.method': ex.method,
        'http.target': this.upstreamPath,
        'flotilla.attempt': number,
        'flotilla.instance': endpoint.url,
      },
    });
    const attempt = new Attempt(this, endpoint, span);
    this.current = attempt;
    // The upstream's server span is a child of this attempt's client span.
    this.headers[this.traceSlot] = formatTraceparent(span.context);
    const now = this.ex.ctx.now();
    const attemptDeadline = now + upstream.settings.timeoutMs;
    const requestDeadline = now - (performance.now() - this.ex.startedAt) + this.ex.snapshot.requestTimeoutMs;
    this.headers[this.deadlineSlot] = String(Math.round(Math.min(attemptDeadline, requestDeadline)));
    const { pool, prefix } = endpoint.value;
    pool.dispatch(
      {
        path: prefix === '' ? this.upstreamPath : prefix + this.upstreamPath,
        method: this.ex.method as Dispatcher.HttpMethod,
        headers: this.headers,
        body: this.body,
      },
      attempt,
    );
    return attempt.promise;
  }

  /**
   * `"<service> <METHOD> <template>"`: the target's rewrite, or the route's path pattern, so that
   * names stay few (OpenTelemetry's advice); the concrete path is the span's `http.target`.
   */
  private clientSpanName(): string {
    if (this.spanName === undefined)
      this.spanName = clientSpanName(
        this.target,
        this.ex.method,
        this.ex.route?.config.match.path ?? this.ex.path,
      );
    return this.spanName;
  }

  /** The response head arrived: it goes to the client at once. Returns false to stop the attempt. */
  head(status: number, raw: Buffer[], attempt: Attempt): boolean {
    const { ex } = this;
    if (attempt !== this.current || ex.clientGone || ex.headSent) return false;
    let headers: string[];
    try {
      headers = responseHeaders(
        raw,
        ex.snapshot.responseHeaders,
        ex.extra,
        ex.snapshot.cors !== undefined,
        this.info,
      );
      ex.headSent = true;
      ex.status = status;
      ex.res.writeHead(status, headers);
    } catch (err) {
      // A header node refuses to write (an invalid value from the upstream): nothing was sent yet.
      ex.headSent = false;
      attempt.invalid = err;
      return false;
    }
    if (this.captured !== undefined && this.info.contentLength > CAPTURE_LIMIT_BYTES)
      this.captured = undefined;
    return true;
  }

  /** A body chunk: to the client, with backpressure (false pauses the upstream until the client drains). */
  data(chunk: Buffer, attempt: Attempt): boolean {
    if (attempt !== this.current || this.ended) return false;
    const { res } = this.ex;
    if (this.captured !== undefined) {
      this.capturedBytes += chunk.length;
      if (this.capturedBytes > CAPTURE_LIMIT_BYTES) this.captured = undefined;
      else this.captured.push(chunk);
    }
    // The common small response arrives in one chunk: header and body leave in one write.
    if (this.sentBytes === 0 && this.info.contentLength === chunk.length) {
      this.ended = true;
      res.end(chunk);
      return true;
    }
    this.sentBytes += chunk.length;
    if (res.write(chunk)) return true;
    res.once('drain', attempt.resume);
    return false;
  }

  /** The upstream's response is complete. */
  complete(attempt: Attempt): void {
    if (attempt !== this.current) return;
    if (!this.ended) {
      this.ended = true;
      this.ex.res.end();
    }
  }

  /** Turns an attempt's error into the error the policies see. */
  classify(err: unknown, attempt: Attempt): unknown {
    let error = err;
    if (attempt.cancelled !== undefined) error = attempt.cancelled;
    else if (attempt.invalid !== undefined)
      error = new Error(`${this.target.service} sent a response head the gateway cannot forward`, {
        cause: attempt.invalid,
      });
    else if (isNetworkError(err))
      error = new UpstreamUnavailableError(this.target.service, attempt.endpoint.url, err);
    if (this.ex.clientGone) return markCallerFault(error);
    // A response already on its way to the client cannot be replaced by a retry's.
    if (this.ex.headSent) markNotRetryable(error);
    return error;
  }

  private settled(status: number): void {
    const { ex } = this;
    if (ex.clientGone && !this.ended) {
      ex.finish(CLIENT_CLOSED_STATUS);
      return;
    }
    const shadow = this.shadow;
    const captured = this.captured;
    if (shadow !== undefined && captured !== undefined) {
      ex.pending++;
      ex.finish(status);
      const body =
        captured.length === 1 ? (captured[0] as Buffer) : Buffer.concat(captured, this.capturedBytes);
      // sendShadowCopy never rejects.
      void sendShadowCopy(ex, shadow, { status, contentType: this.info.contentType, body }).then(() => {
        ex.pending--;
        ex.done();
      });
      return;
    }
    ex.finish(status);
  }

  private failed(err: unknown): void {
    const { ex, current } = this;
    current?.cancel(err);
    if (ex.clientGone) {
      ex.finish(CLIENT_CLOSED_STATUS);
      return;
    }
    // A streamed body the client never finished is why the upstream could not answer: its fault.
    const stalled =
      this.body !== null && !Buffer.isBuffer(this.body) && !ex.req.complete && isTimeoutError(err);
    const reply = stalled
      ? bodyTimeoutReply(ex.snapshot.bodyTimeoutMs)
      : replyForUpstreamError(err, this.target.service, ex.snapshot.requestTimeoutMs);
    if (reply.status >= 500)
      ex.ctx.metrics.upstreamErrors.inc({ upstream: this.target.service, code: reply.code });
    if (reply.code === 'BAD_GATEWAY')
      ex.ctx.logger.warn({ err, reqId: ex.requestId, upstream: this.target.service }, 'upstream call failed');
    if (!ex.headSent) {
      ex.replyError(reply);
      return;
    }
    // The response had started: the client must see it broken off, not complete.
    ex.res.destroy();
    ex.finish(reply.status, true);
  }

  /** The client went away: the attempt in flight is stopped. */
  clientClosed(): void {
    this.current?.cancel(markCallerFault(new ClientClosedError()));
  }
}

/** One attempt: the undici handler of one dispatch (the legacy handler API, which undici calls without a wrapper). */
class Attempt implements Dispatcher.DispatchHandler {
  readonly promise: Promise<number>;
  private resolve!: (status: number) => void;
  private reject!: (err: unknown) => void;
  private abort: ((err: Error) => void) | undefined = undefined;
  private status = 0;
  private over = false;
  /** Why the gateway stopped this attempt, if it did. */
  cancelled: unknown = undefined;
  /** A response head that could not be forwarded. */
  invalid: unknown = undefined;
  /** undici's resume, for backpressure. */
  resume: () => void = noop;

  constructor(
    private readonly forward: Forward,
    readonly endpoint: { readonly url: string; readonly value: Connection },
    /** The attempt's client span; ends with the attempt. */
    private readonly span: ActiveSpan,
  ) {
    this.promise = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.cancelled !== undefined) abort(asError(this.cancelled));
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (this.over) return false;
    // 1xx informational responses are not forwarded; the final one follows.
    if (status < 200) return true;
    this.status = status;
    this.resume = resume;
    if (!this.forward.head(status, raw, this)) {
      this.cancel(this.invalid ?? this.cancelled ?? new Error('attempt superseded'));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.over) return false;
    return this.forward.data(chunk, this);
  }

  onComplete(): void {
    if (this.over) return;
    this.over = true;
    this.forward.complete(this);
    this.forward.target.upstream.balancer.release(this.endpoint, this.status >= 500 ? 'failure' : 'success');
    this.span.setAttribute('http.status_code', this.status);
    this.span.end(this.status >= 500 ? 'error' : 'ok');
    this.resolve(this.status);
  }

  onError(err: Error): void {
    if (this.over) return;
    this.over = true;
    const error = this.forward.classify(err, this);
    this.forward.target.upstream.balancer.release(
      this.endpoint,
      this.cancelled !== undefined || this.invalid !== undefined ? 'neutral' : 'failure',
    );
    if (this.status !== 0) this.span.setAttribute('http.status_code', this.status);
    this.span.setAttribute('error.code', spanErrorCode(error));
    this.span.end('error');
    this.reject(error);
  }

  /** Stops the attempt (a timeout, a newer attempt, the client left). */
  cancel(reason: unknown): void {
    if (this.over || this.cancelled !== undefined) return;
    this.cancelled = reason ?? new Error('attempt cancelled');
    this.abort?.(asError(this.cancelled));
  }
}

function noop(): void {}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
