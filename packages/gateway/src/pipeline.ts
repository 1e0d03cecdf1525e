import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TimeoutError } from '@flotilla/resilience';
import { formatTraceparent, parseTraceparent } from '@flotilla/service';
import { bearerToken, GatewayAuthError, type Identity, isGatewayAuthError } from './auth.js';
import { readBody, streamBody } from './body.js';
import {
  BodyTimeoutError,
  BodyTooLargeError,
  bodyTimeoutReply,
  ClientClosedError,
  type ErrorReply,
  errorJson,
  replyForUpstreamError,
} from './error-reply.js';
import { Exchange, type GatewayContext } from './exchange.js';
import { cookieValue, RequestHeaders } from './headers.js';
import { Forward } from './proxy.js';
import { type LimitVerdict, rateLimitHeaders } from './rate-limit.js';
import { HSTS_HEADER, normalizeTarget } from './security.js';
import type { ShadowPlan } from './shadow-copy.js';
import type { CompiledRoute, CompiledTarget, Snapshot } from './snapshot.js';

/**
 * The life of a request through the gateway (internal): target normalisation, routing, CORS,
 * authentication, rate limits, body limits, then proxying (proxy.ts), a split (with its shadow
 * copy) or an aggregate. Each stage is synchronous when it can be — a cached token, an
 * in-memory bucket — and continues from a promise only when it must wait.
 */

/** Methods retried after a failed attempt (RFC 9110 §9.2.2), besides requests with an Idempotency-Key. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const ROUTABLE: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DIGITS = /^\d{1,15}$/;

const reply = (status: number, code: string, message: string, extra?: Partial<ErrorReply>): ErrorReply => ({
  status,
  code,
  message,
  retryable: status === 408 || status === 429 || status >= 500,
  ...extra,
});

/** Handles one request on `snapshot` (already counted in its `inflight`). */
export function handleRequest(
  ctx: GatewayContext,
  snapshot: Snapshot,
  req: IncomingMessage,
  res: ServerResponse,
  startedAt: number,
): void {
  const method = req.method as string;
  const target = normalizeTarget(req.url as string);
  const hit =
    'path' in target && ROUTABLE.has(method) ? snapshot.router.match(method, target.path) : undefined;
  const route = hit?.kind === 'hit' ? hit.value : undefined;
  // The target's header rules apply during the one pass; a split's are applied once a side is chosen.
  const head = new RequestHeaders(req.rawHeaders, route?.target?.drop);
  const ex = new Exchange(ctx, snapshot, req, res, head, method, startedAt);
  const parent = head.traceparent === undefined ? undefined : parseTraceparent(head.traceparent);
  // The server span: a child of the client's traceparent (or a new trace). Calls upstream replace
  // its id with their own client span's, so the upstreams' server spans nest under those.
  const span = ctx.tracer.startSpan(
    route === undefined ? `${method} unmatched` : `${method} ${route.config.match.path}`,
    {
      kind: 'server',
      parent,
      attributes:
        route === undefined
          ? { 'http.method': method }
          : { 'http.method': method, 'http.route': route.config.match.path, 'gateway.route': route.id },
    },
  );
  ex.span = span;
  ex.traceId = span.context.traceId;
  ex.traceparent = formatTraceparent(span.context);
  const rid = head.requestId;
  // A new trace's id is fresh randomness already: it serves as the request id too.
  ex.requestId =
    rid !== undefined && REQUEST_ID.test(rid) ? rid : parent === undefined ? ex.traceId : randomUUID();
  ex.extra.push('x-request-id', ex.requestId);
  const proto = head.forwardedProto;
  if (proto !== undefined && (proto === 'https' || proto.startsWith('https,'))) ex.extra.push(...HSTS_HEADER);
  const cors = snapshot.cors;
  const origin = head.origin;
  const corsAllowed = cors !== undefined && origin !== undefined && cors.allows(origin);
  if (corsAllowed) ex.extra.push(...cors.responseHeaders(origin));

  if (!('path' in target)) {
    ex.replyError(reply(400, target.code, target.message));
    return;
  }
  ex.path = target.path;
  ex.query = target.query;
  if (head.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
    ex.replyError(reply(400, 'MISSING_HOST', 'HTTP/1.1 requests must carry a Host header'));
    return;
  }
  if (head.duplicate !== undefined) {
    ex.replyError(reply(400, 'DUPLICATE_HEADER', `the ${head.duplicate} header may appear only once`));
    return;
  }
  if (head.contentLength !== undefined && !DIGITS.test(head.contentLength)) {
    ex.replyError(reply(400, 'INVALID_CONTENT_LENGTH', 'content-length must be a decimal number'));
    return;
  }

  // A CORS preflight is the gateway's to answer: it never reaches an upstream.
  if (
    method === 'OPTIONS' &&
    cors !== undefined &&
    origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  ) {
    if (!corsAllowed) {
      ex.replyError(reply(403, 'CORS_ORIGIN_FORBIDDEN', `origin ${origin} may not call this API`));
      return;
    }
    ex.headSent = true;
    res.writeHead(204, [
      ...snapshot.responseHeaders,
      'x-request-id',
      ex.requestId,
      ...cors.preflightHeaders(origin),
    ]);
    res.end();
    ex.finish(204);
    return;
  }
  if (hit === undefined) {
    ex.replyError(
      reply(405, 'METHOD_NOT_ALLOWED', `method ${method} is not supported`, {
        headers: ['allow', [...ROUTABLE].join(', ')],
      }),
    );
    return;
  }
  if (hit.kind === 'not-found') {
    ex.replyError(reply(404, 'ROUTE_NOT_FOUND', `no route for ${method} ${target.path}`));
    return;
  }
  if (hit.kind === 'method-not-allowed') {
    ex.replyError(
      reply(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${target.path}`, {
        headers: ['allow', hit.allow.join(', ')],
      }),
    );
    return;
  }
  ex.route = hit.value;
  ex.hit = hit;
  authenticate(ex, hit.value);
}

/** Verifies the end user's JWT (a cached token costs one map lookup) and the route's scopes. */
function authenticate(ex: Exchange, route: CompiledRoute): void {
  if (route.auth === 'public') {
    limit(ex, route);
    return;
  }
  const verifier = ex.snapshot.auth;
  const header = ex.head.authorization;
  const token = header === undefined ? undefined : bearerToken(header);
  if (verifier === undefined || token === undefined) {
    denied(ex, new GatewayAuthError('UNAUTHENTICATED', 'a bearer token is required'));
    return;
  }
  const cached = verifier.cached(token, ex.ctx.now());
  if (cached !== undefined) {
    authorized(ex, route, cached);
    return;
  }
  verifier.verify(token).then(
    (identity) => authorized(ex, route, identity),
    (err: unknown) => denied(ex, err),
  );
}

function authorized(ex: Exchange, route: CompiledRoute, identity: Identity): void {
  const required = route.auth as readonly string[];
  if (required.length > 0 && !identity.hasScopes(required)) {
    denied(
      ex,
      new GatewayAuthError('INSUFFICIENT_SCOPE', `this route needs the scope(s) ${required.join(', ')}`, {
        scopes: required,
      }),
    );
    return;
  }
  ex.user = identity;
  limit(ex, route);
}

function denied(ex: Exchange, err: unknown): void {
  if (!isGatewayAuthError(err)) {
    ex.ctx.logger.error({ err, reqId: ex.requestId }, 'token verification failed unexpectedly');
    ex.replyError(reply(500, 'INTERNAL', 'token verification failed'));
    return;
  }
  ex.replyError(
    reply(err.status, err.code, err.message, {
      ...(err.challenge === undefined ? {} : { headers: ['www-authenticate', err.challenge] }),
      ...(err.status === 503 ? { retryAfterSec: 5 } : {}),
    }),
  );
}

/** Takes a token from the route's buckets: per consumer (user id, else client address) and per route. */
function limit(ex: Exchange, route: CompiledRoute): void {
  const limiter = route.limiter;
  if (limiter === undefined) {
    dispatch(ex, route);
    return;
  }
  const consumer = ex.user?.consumerKey ?? `ip:${clientAddress(ex)}`;
  const verdict = limiter.take(consumer);
  if (verdict instanceof Promise)
    verdict.then(
      (v) => limited(ex, route, v),
      () => dispatch(ex, route),
    );
  else limited(ex, route, verdict);
}

function limited(ex: Exchange, route: CompiledRoute, verdict: LimitVerdict): void {
  const headers = rateLimitHeaders(verdict);
  if (!verdict.allowed) {
    ex.ctx.metrics.rateLimited.inc({ route: route.id, scope: verdict.scope ?? 'consumer' });
    ex.replyError(
      reply(
        429,
        'RATE_LIMITED',
        `too many requests ${verdict.scope === 'route' ? 'on this route' : 'from this consumer'}; retry in ${verdict.retryAfterSec} s`,
        {
          retryAfterSec: verdict.retryAfterSec,
          headers,
        },
      ),
    );
    return;
  }
  for (const h of headers) ex.extra.push(h);
  dispatch(ex, route);
}

function clientAddress(ex: Exchange): string {
  const remote = ex.req.socket.remoteAddress ?? 'unknown';
  if (!ex.ctx.trustProxy || ex.head.forwardedFor === undefined) return remote;
  const first = ex.head.forwardedFor.split(',')[0]?.trim();
  return first === undefined || first === '' ? remote : first;
}

function dispatch(ex: Exchange, route: CompiledRoute): void {
  if (route.aggregator !== undefined) {
    aggregate(ex, route).catch((err: unknown) => {
      ex.ctx.logger.error({ err, reqId: ex.requestId, route: route.id }, 'aggregate failed');
      ex.replyError(reply(500, 'INTERNAL', 'the aggregate failed'));
    });
    return;
  }
  const head = ex.head;
  const hasBody = head.chunked || (head.contentLength !== undefined && head.contentLength !== '0');
  if (head.contentLength !== undefined && Number(head.contentLength) > ex.snapshot.bodyBytes) {
    tooLarge(ex, new BodyTooLargeError(ex.snapshot.bodyBytes));
    return;
  }
  let target = route.target as CompiledTarget;
  let shadow: Omit<ShadowPlan, 'body'> | undefined;
  const split = route.split;
  if (split !== undefined) {
    const sticky =
      ex.user?.id ?? (split.cookie === undefined ? undefined : cookieValue(head.cookie, split.cookie));
    const decision = split.controller.choose(sticky, ex.method);
    target = decision.side === 'candidate' ? split.candidate : split.legacy;
    if (decision.mirror !== undefined) shadow = { split, target: split.candidate, headers: head.out.slice() };
    if (target.drop !== undefined) dropHeaders(head.out, target.drop);
  }
  const retryable = IDEMPOTENT.has(ex.method) || head.idempotencyKey;
  if (hasBody && (retryable || shadow !== undefined)) {
    readBody(ex.req, ex.snapshot.bodyBytes, ex.snapshot.bodyTimeoutMs).then(
      (body) =>
        withToken(ex, target, body, retryable, shadow === undefined ? undefined : { ...shadow, body }),
      (err: unknown) => tooLarge(ex, err),
    );
    return;
  }
  const body = hasBody ? streamBody(ex.req, head.contentLength !== undefined, ex.snapshot.bodyBytes) : null;
  withToken(ex, target, body, retryable, shadow === undefined ? undefined : { ...shadow, body: null });
}

function tooLarge(ex: Exchange, err: unknown): void {
  if (err instanceof BodyTooLargeError) {
    // The rest of the body is not read: the connection closes after the answer.
    ex.replyError(reply(413, 'PAYLOAD_TOO_LARGE', err.message, { headers: ['connection', 'close'] }));
    return;
  }
  if (err instanceof BodyTimeoutError) {
    ex.replyError(bodyTimeoutReply(err.timeoutMs));
    return;
  }
  ex.clientGone = true;
  ex.finish(400);
}

/** Gets the service token for the target (cached per service and user), then forwards. */
function withToken(
  ex: Exchange,
  target: CompiledTarget,
  body: Buffer | NodeJS.ReadableStream | null,
  retryable: boolean,
  shadow: ShadowPlan | undefined,
): void {
  const tokens = ex.ctx.tokens;
  if (tokens === undefined || !target.sendsToken) {
    forward(ex, target, body, retryable, shadow, undefined);
    return;
  }
  const cached = tokens.cached(target.service, ex.user, ex.ctx.now());
  if (cached !== undefined) {
    forward(ex, target, body, retryable, shadow, cached);
    return;
  }
  tokens.mint(target.service, ex.user).then(
    (token) => forward(ex, target, body, retryable, shadow, token),
    (err: unknown) => {
      ex.ctx.logger.error({ err, reqId: ex.requestId }, 'minting a service token failed');
      ex.replyError(reply(500, 'INTERNAL', 'the gateway could not sign the upstream request'));
    },
  );
}

function forward(
  ex: Exchange,
  target: CompiledTarget,
  body: Buffer | NodeJS.ReadableStream | null,
  retryable: boolean,
  shadow: ShadowPlan | undefined,
  token: string | undefined,
): void {
  const fwd = new Forward(ex, target, body as Buffer | null, retryable, shadow, token);
  ex.res.on('close', () => {
    if (ex.res.writableFinished || ex.finished) return;
    ex.clientGone = true;
    fwd.clientClosed();
  });
  fwd.start();
}

function dropHeaders(out: string[], drop: ReadonlySet<string>): void {
  let w = 0;
  for (let r = 0; r < out.length; r += 2) {
    if (drop.has(out[r] as string)) continue;
    out[w++] = out[r] as string;
    out[w++] = out[r + 1] as string;
  }
  out.length = w;
}

/** An aggregate route: the parts are called by the route's aggregator through `createPartCall`. */
async function aggregate(ex: Exchange, route: CompiledRoute): Promise<void> {
  const hit = ex.hit;
  const params: Record<string, string> = {};
  if (hit !== undefined) {
    const names = hit.pattern.params;
    hit.values.forEach((value, i) => {
      params[names[i] as string] = decodeURIComponent(value);
    });
    if (hit.pattern.wildcard) params['*'] = decodeURIComponent(hit.rest.slice(1));
  }
  const headers: Record<string, string> = {};
  const out = ex.head.out;
  for (let i = 0; i < out.length; i += 2) headers[out[i] as string] = out[i + 1] as string;
  headers['x-request-id'] = ex.requestId;
  headers.traceparent = ex.traceparent;
  headers['x-forwarded-for'] = ex.req.socket.remoteAddress ?? '';
  // The verified token travels to the part call, which swaps it for a service token per part.
  if (ex.user !== undefined && ex.head.authorization !== undefined)
    headers.authorization = ex.head.authorization;
  const controller = new AbortController();
  const { requestTimeoutMs } = ex.snapshot;
  const timer = setTimeout(() => controller.abort(new TimeoutError(requestTimeoutMs)), requestTimeoutMs);
  const onClose = () => {
    if (!ex.res.writableFinished) {
      ex.clientGone = true;
      controller.abort(new ClientClosedError());
    }
  };
  ex.res.on('close', onClose);
  try {
    const result = await (route.aggregator as NonNullable<CompiledRoute['aggregator']>).handle(params, {
      signal: controller.signal,
      headers,
    });
    if (ex.clientGone) {
      ex.finish(499);
      return;
    }
    const extra: string[] = [];
    for (const [name, value] of Object.entries(result.headers))
      if (name.toLowerCase() !== 'content-type' && name.toLowerCase() !== 'content-length')
        extra.push(name, value);
    ex.replyJson(result.status, JSON.stringify(result.body), extra);
  } catch (err) {
    if (ex.clientGone) {
      ex.finish(499);
      return;
    }
    const r = replyForUpstreamError(err, route.id, requestTimeoutMs);
    ex.replyJson(r.status, errorJson(r));
  } finally {
    clearTimeout(timer);
    ex.res.off('close', onClose);
  }
}
