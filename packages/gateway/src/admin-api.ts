import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SpanQuery, Tracer } from '@flotilla/service';
import type { GatewayConfig } from './config.js';
import type { ConfigIssue } from './config-error.js';
import { isGatewayConfigError } from './config-error.js';
import { errorJson } from './error-reply.js';
import { SECURITY_HEADERS } from './security.js';
import type { MigrationStatus } from './split.js';
import type { UpstreamReport } from './upstream-pool.js';

/**
 * The admin API under `/__admin/` (internal). Every call needs `Authorization: Bearer <token>`
 * with the token from `FLOTILLA_ADMIN_TOKEN` (compared in constant time); without a configured
 * token the API does not exist (404), so it is never open by accident.
 *
 * - `GET  /__admin/config`                       the configuration in force (literal secrets redacted)
 * - `PUT  /__admin/config`                       validates a new configuration and swaps it in atomically;
 *                                                 a bad one is refused with every issue, the old one stays
 * - `GET  /__admin/routes`                       routes in match order, with their targets and policies
 * - `GET  /__admin/migrations`                   every split's state (weights, counters, guards, rollback)
 * - `PUT  /__admin/migrations/:routeId/weight`   `{ "weight": 25 }` sets a split's weight by hand
 * - `GET  /__admin/upstreams`                    breakers, instances and policy snapshots per upstream
 * - `GET  /__admin/spans?traceId&sinceMs&after&limit`  the gateway's recorded spans, oldest first, and
 *                                                 `next` (the position to pass as `after`), as the
 *                                                 services' `/internal/spans`
 */

/** What the admin API needs from the gateway. */
export interface AdminHost {
  config(): GatewayConfig;
  /** Validates and applies a configuration; resolves with its issues when it was refused. */
  apply(input: unknown): Promise<readonly ConfigIssue[] | undefined>;
  routes(): unknown[];
  migrations(): MigrationStatus[];
  /** Sets a split's weight; false when the route has no split. */
  setWeight(routeId: string, weight: number): MigrationStatus | undefined;
  upstreams(): UpstreamReport[];
  /** The gateway's tracer, whose spans `/spans` serves. */
  readonly tracer: Pick<Tracer, 'spans' | 'recorded'>;
}

/** Largest admin request body, in bytes. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Creates the handler of `/__admin/*` requests; `token` undefined disables the API. */
export function createAdminApi(token: string | undefined, host: AdminHost) {
  const expected = token === undefined || token === '' ? undefined : digest(token);

  const send = (res: ServerResponse, status: number, body: unknown, headers: string[] = []): void => {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, [
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(text)),
      'cache-control',
      'no-store',
      ...SECURITY_HEADERS,
      ...headers,
    ]);
    res.end(text);
  };
  const fail = (
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    extra?: { details?: unknown; headers?: string[] },
  ) => {
    const text = errorJson({
      status,
      code,
      message,
      retryable: false,
      ...(extra?.details === undefined ? {} : { details: extra.details }),
    });
    send(res, status, JSON.parse(text), extra?.headers);
  };

  return async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (expected === undefined)
      return fail(res, 404, 'ROUTE_NOT_FOUND', `no route for ${req.method} ${path}`);
    const header = req.headers.authorization;
    const presented =
      typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (presented === undefined || !timingSafeEqual(digest(presented), expected))
      return fail(res, 401, 'UNAUTHENTICATED', 'the admin API needs the admin bearer token', {
        headers: ['www-authenticate', 'Bearer realm="flotilla-admin"'],
      });
    const method = req.method;
    const route = path.slice('/__admin'.length).replace(/\/$/, '');
    try {
      if (route === '/config') {
        if (method === 'GET') return send(res, 200, redact(host.config()));
        if (method === 'PUT') {
          const body = await readJson(req);
          if (body === undefined)
            return fail(res, 400, 'MALFORMED_JSON', 'the body must be a JSON configuration');
          const issues = await host.apply(body);
          if (issues !== undefined)
            return fail(
              res,
              400,
              'CONFIG_INVALID',
              'the configuration was refused; the previous one stays in force',
              { details: issues },
            );
          return send(res, 200, { applied: true, routes: host.config().routes.length });
        }
        return fail(res, 405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on /__admin/config`, {
          headers: ['allow', 'GET, PUT'],
        });
      }
      if (route === '/routes' && method === 'GET') return send(res, 200, host.routes());
      if (route === '/migrations' && method === 'GET') return send(res, 200, host.migrations());
      if (route === '/upstreams' && method === 'GET') return send(res, 200, host.upstreams());
      if (route === '/spans' && method === 'GET') {
        const query = spanQuery(req.url as string);
        if (query === undefined)
          return fail(res, 400, 'VALIDATION_FAILED', 'sinceMs, after and limit must be non-negative numbers');
        // `next` first: nothing is recorded between the two reads (one synchronous turn).
        const next = host.tracer.recorded();
        return send(res, 200, { spans: host.tracer.spans(query), next });
      }
      const weight = /^\/migrations\/([^/]+)\/weight$/.exec(route);
      if (weight !== null && method === 'PUT') {
        const body = (await readJson(req)) as { weight?: unknown } | undefined;
        const value = body?.weight;
        if (typeof value !== 'number' || !(value >= 0 && value <= 100))
          return fail(
            res,
            400,
            'VALIDATION_FAILED',
            `weight must be a number in 0..100, got ${JSON.stringify(value)}`,
          );
        const status = host.setWeight(decodeURIComponent(weight[1] as string), value);
        if (status === undefined)
          return fail(res, 404, 'MIGRATION_NOT_FOUND', `route ${weight[1]} has no traffic split`);
        return send(res, 200, status);
      }
      if (['/config', '/routes', '/migrations', '/upstreams', '/spans'].includes(route) || weight !== null)
        return fail(res, 405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
      return fail(res, 404, 'ROUTE_NOT_FOUND', `no admin route ${path}`);
    } catch (err) {
      if (isGatewayConfigError(err))
        return fail(res, 400, 'CONFIG_INVALID', err.message, { details: err.issues });
      return fail(res, 500, 'INTERNAL', (err as Error).message);
    }
  };
}

/** The span query of `/__admin/spans` (the services' `/internal/spans` rules); `undefined` when invalid. */
function spanQuery(url: string): SpanQuery | undefined {
  const at = url.indexOf('?');
  const q = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
  const traceId = q.get('traceId');
  const since = q.get('sinceMs');
  const after = q.get('after');
  const limit = q.get('limit');
  const sinceMs = since === null ? undefined : Number(since);
  const afterN = after === null ? undefined : Number(after);
  const limitN = limit === null ? undefined : Number(limit);
  if (
    (sinceMs !== undefined && !Number.isFinite(sinceMs)) ||
    (afterN !== undefined && !(Number.isSafeInteger(afterN) && afterN >= 0)) ||
    (limitN !== undefined && !(limitN >= 1))
  )
    return undefined;
  return {
    ...(traceId === null ? {} : { traceId }),
    ...(sinceMs === undefined ? {} : { sinceMs }),
    ...(afterN === undefined ? {} : { after: afterN }),
    ...(limitN === undefined ? {} : { limit: limitN }),
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The configuration without literal JWT secrets (`env:` references are shown: they are not secret). */
function redact(config: GatewayConfig): GatewayConfig {
  const secret = config.auth?.jwt.secret;
  if (secret === undefined || secret.startsWith('env:') || config.auth === undefined) return config;
  return { ...config, auth: { ...config.auth, jwt: { ...config.auth.jwt, secret: '[redacted]' } } };
}
