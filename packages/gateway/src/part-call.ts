import { type Clock, pipeline, timeout } from '@flotilla/resilience';
import {
  formatTraceparent,
  parseRetryAfter,
  parseTraceparent,
  type Tracer,
  UpstreamError,
} from '@flotilla/service';
import type { PartCall } from './aggregate.js';
import { bearerToken } from './auth.js';
import { spanErrorCode } from './error-reply.js';
import type { ServiceTokenCache } from './service-token-cache.js';
import type { Snapshot } from './snapshot.js';
import { type BufferedResponse, callBuffered } from './upstream-call.js';
import type { PolicyRunner } from './upstream-pool.js';

/** Largest part response read, in bytes. */
const PART_LIMIT_BYTES = 4 * 1024 * 1024;

/** What part calls need from the gateway. */
export interface PartCallContext {
  readonly tokens: ServiceTokenCache | undefined;
  readonly now: () => number;
  readonly clock: Clock;
  /** Records a client span per part call. */
  readonly tracer: Tracer;
}

/**
 * The {@link PartCall} of aggregate routes: a buffered JSON call through the upstream's
 * policies (retries for GET parts, the breaker, the bulkhead, and the part's own timeout in
 * place of the upstream's when it has one). The end user travels to the part inside its service
 * token: the aggregate handler passes the client's (already verified) bearer token in
 * `headers.authorization`, and it is swapped here for a token minted for the part's service.
 * Error statuses reject with `UpstreamError`; network failures with `UpstreamUnavailableError`.
 * Each call records a client span (`peer.service`), a child of the `traceparent` in `headers`.
 */
export function createPartCall(snapshot: () => Snapshot, ctx: PartCallContext): PartCall {
  const policies = new Map<string, PolicyRunner>();
  const policyFor = (
    snap: Snapshot,
    service: string,
    method: string,
    timeoutMs: number | undefined,
  ): PolicyRunner => {
    const upstream = snap.upstreams.get(service);
    if (upstream === undefined) throw new RangeError(`aggregate part calls unknown upstream "${service}"`);
    const key = `${upstream.key}|${method}|${timeoutMs ?? ''}`;
    let policy = policies.get(key);
    if (policy === undefined) {
      const attempt =
        timeoutMs === undefined
          ? upstream.attemptTimeout
          : timeout({ timeoutMs, clock: ctx.clock, name: `${service}.part-timeout` });
      const inner = [upstream.breaker, upstream.bulkhead, attempt] as const;
      policy =
        method === 'GET' && upstream.retry !== undefined
          ? pipeline(upstream.retry, ...inner)
          : pipeline(...inner);
      policies.set(key, policy);
    }
    return policy;
  };

  return async (service, method, path, { timeoutMs, signal, headers, template }) => {
    const snap = snapshot();
    const policy = policyFor(snap, service, method, timeoutMs);
    const upstream = snap.upstreams.get(service);
    if (upstream === undefined) throw new RangeError(`aggregate part calls unknown upstream "${service}"`);
    const list: string[] = ['accept', 'application/json'];
    let userToken: string | undefined;
    let traceparent: string | undefined;
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      if (lower === 'authorization') userToken = bearerToken(value);
      else if (lower === 'traceparent') traceparent = value;
      else if (
        lower !== 'accept' &&
        lower !== 'x-request-deadline' &&
        lower !== 'content-length' &&
        lower !== 'content-type'
      )
        list.push(lower, value);
    }
    const now = ctx.now();
    const user = userToken === undefined ? undefined : snap.auth?.cached(userToken, now);
    if (ctx.tokens !== undefined)
      list.push(
        'authorization',
        ctx.tokens.cached(service, user, now) ?? (await ctx.tokens.mint(service, user)),
      );
    list.push('x-request-deadline', String(now + (timeoutMs ?? upstream.settings.timeoutMs)));
    const q = path.indexOf('?');
    const span = ctx.tracer.startSpan(
      `${service} ${method} ${template ?? (q < 0 ? path : path.slice(0, q))}`,
      {
        kind: 'client',
        parent: parseTraceparent(traceparent),
        attributes: { 'peer.service': service, 'http.method': method, 'http.target': path },
      },
    );
    // The part's server span is a child of this client span.
    list.push('traceparent', formatTraceparent(span.context));
    let res: BufferedResponse;
    try {
      res = await callBuffered(upstream, policy, {
        method,
        path,
        headers: list,
        body: null,
        signal,
        maxBytes: PART_LIMIT_BYTES,
      });
    } catch (err) {
      span.setAttribute('error.code', spanErrorCode(err));
      span.end('error');
      throw err;
    }
    span.setAttribute('http.status_code', res.status);
    if (res.truncated) {
      span.setAttribute('error.code', 'RESPONSE_TOO_LARGE');
      span.end('error');
      throw new UpstreamError({
        service,
        status: 502,
        code: 'RESPONSE_TOO_LARGE',
        message: `${service} answered with more than ${PART_LIMIT_BYTES} bytes`,
      });
    }
    span.end(res.status >= 500 ? 'error' : 'ok');
    const body = parse(res.body, res.headers['content-type']);
    if (res.status >= 400)
      throw new UpstreamError({
        service,
        status: res.status,
        body,
        retryAfterMs: parseRetryAfter(res.headers['retry-after'], now),
      });
    return { status: res.status, headers: res.headers, body };
  };
}

function parse(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return undefined;
  const text = body.toString('utf8');
  if (contentType !== undefined && !contentType.includes('json')) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
