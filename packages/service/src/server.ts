import { systemClock } from '@flotilla/resilience';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { createClients } from './client.js';
import type { CallContext, Clients, ServiceClient } from './client-types.js';
import { loadConfig } from './config.js';
import { DEADLINE_HEADER, parseDeadline } from './deadline.js';
import type { RunningService, Service, StartOptions } from './define-service.js';
import { discovery as envDiscovery } from './discovery.js';
import { mapError } from './error-mapping.js';
import { errorBody, ServiceError } from './errors.js';
import { readiness, runChecks, type ServicePhase } from './health.js';
import type { HealthCheck } from './health-check.js';
import { createServiceMetrics } from './http-metrics.js';
import { createLogger } from './logger.js';
import { type AnyRoute, isReply, type RequestContext } from './route.js';
import { type CallerIdentity, type EndUser, isInvalidTokenError, serviceTokens } from './tokens.js';
import { parseTraceparent, type TraceContext } from './trace-context.js';
import { type ActiveSpan, createTracer, tracesPerSecondFromEnv } from './tracer.js';

const RuntimeEnv = z.object({
  FLOTILLA_HOST: z.string().default('127.0.0.1'),
  FLOTILLA_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FLOTILLA_SERVICE_KEY: z
    .string()
    .min(32, 'must be at least 32 characters (generate one with: openssl rand -hex 32)')
    .optional(),
  FLOTILLA_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  FLOTILLA_LOG_PRETTY: z.stringbool().optional(),
  FLOTILLA_VALIDATE_RESPONSES: z.stringbool().optional(),
  FLOTILLA_SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).default(0),
  FLOTILLA_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  FLOTILLA_TRACES_PER_SECOND: z
    .string()
    .optional()
    .transform((value, ctx) => {
      try {
        return tracesPerSecondFromEnv(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  NODE_ENV: z.string().optional(),
});

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Starts a defined service (the implementation of `service.start`). */
export async function startService<Deps>(
  service: Service<Deps>,
  options: StartOptions,
): Promise<RunningService<Deps>> {
  const { name, version } = service;
  const env = options.env ?? process.env;
  const runtime = loadConfig(RuntimeEnv, env, name);
  const ownConfig = service.options.config === undefined ? {} : loadConfig(service.options.config, env, name);
  const serviceKey = options.serviceKey ?? runtime.FLOTILLA_SERVICE_KEY;
  if (serviceKey === undefined || serviceKey.length < 32)
    throw new ServiceStartError(
      name,
      'FLOTILLA_SERVICE_KEY is not set: services sign the tokens they present to each other with it (at least 32 characters; generate one with: openssl rand -hex 32)',
    );
  const log =
    options.logger ??
    createLogger({
      service: name,
      level: runtime.FLOTILLA_LOG_LEVEL,
      ...(runtime.FLOTILLA_LOG_PRETTY === undefined ? {} : { pretty: runtime.FLOTILLA_LOG_PRETTY }),
    });
  const validateResponses =
    options.validateResponses ?? runtime.FLOTILLA_VALIDATE_RESPONSES ?? runtime.NODE_ENV !== 'production';
  const shutdownDelayMs = options.shutdownDelayMs ?? runtime.FLOTILLA_SHUTDOWN_DELAY_MS;
  const drainTimeoutMs = options.drainTimeoutMs ?? runtime.FLOTILLA_DRAIN_TIMEOUT_MS;

  const tracer = createTracer({ service: name, maxTracesPerSecond: runtime.FLOTILLA_TRACES_PER_SECOND });
  const tokens = serviceTokens({ service: name, key: serviceKey });
  const clients: Clients = createClients({
    caller: name,
    tokens,
    tracer,
    discovery: options.discovery ?? envDiscovery({ env }),
    clock: options.clock ?? systemClock,
    logger: log,
    ...(options.upstreamDefaults === undefined ? {} : { defaults: options.upstreamDefaults }),
    ...(service.options.upstreams === undefined ? {} : { policies: service.options.upstreams }),
  });
  const metrics = createServiceMetrics(name, () => clients.snapshots());

  let phase: ServicePhase = 'starting';
  let deps: Deps = undefined as Deps;
  const checks: HealthCheck[] = [];
  const closers: (() => unknown)[] = [() => clients.close()];

  const app = Fastify({
    logger: false,
    bodyLimit: service.options.bodyLimitBytes ?? 1_048_576,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
    genReqId: () => '',
  });
  // JSON is the only body format; anything else is 415.
  app.removeContentTypeParser('text/plain');

  for (const route of service.routes) {
    app.route({ method: route.method, url: route.path, handler: compile(route) });
  }
  registerMethodNotAllowed(app, service.routes);

  /**
   * Builds the Fastify handler of one route. Everything that depends only on the route (span
   * name, metrics series, attributes) is computed here once; a request runs synchronously up to
   * the first real wait (a token not seen before, an async handler), so a plain request costs no
   * extra promise turns.
   */
  function compile(route: AnyRoute<Deps>) {
    const spanName = `${route.method} ${route.path}`;
    const recorder = metrics.route(route.method, route.path);
    const okStatus = route.status ?? 200;
    const needsAuth = route.auth !== 'none';

    return (request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> => {
      const started = performance.now();
      const headers = request.headers;
      const tp = headers.traceparent;
      const span = tracer.startSpan(spanName, {
        kind: 'server',
        parent: typeof tp === 'string' ? parseTraceparent(tp) : undefined,
        attributes: { 'http.method': route.method, 'http.route': route.path },
      });
      const rid = headers['x-request-id'];
      const requestId = typeof rid === 'string' && REQUEST_ID.test(rid) ? rid : span.context.spanId;
      reply.header('x-request-id', requestId);
      reply.header('x-trace-id', span.context.traceId);
      let ctx: RequestCtx<Deps> | undefined;

      const finish = (status: number): FastifyReply => {
        ctx?.dispose();
        recorder.observe(status, (performance.now() - started) / 1000);
        span.setAttribute('http.status_code', status);
        span.end(status >= 500 ? 'error' : 'ok');
        return reply;
      };
      const fail = (err: unknown): FastifyReply =>
        finish(sendError(reply, err, requestId, span.context.traceId));
      const respond = (result: unknown): FastifyReply => {
        let status = okStatus;
        let body = result;
        if (isReply(result)) {
          status = result.status;
          body = result.body;
          if (result.headers !== undefined) reply.headers(result.headers);
        }
        if (validateResponses && route.response !== undefined) {
          const checked = route.response.safeParse(body);
          if (!checked.success) {
            log.error(
              {
                reqId: requestId,
                traceId: span.context.traceId,
                route: route.path,
                issues: checked.error.issues,
              },
              'handler returned a response that does not match its schema',
            );
            return fail(new ServiceError(500, 'RESPONSE_INVALID', `internal error (request ${requestId})`));
          }
        }
        reply.code(status);
        if (body === undefined) reply.send();
        else reply.send(body);
        return finish(status);
      };
      const run = (
        caller: CallerIdentity | undefined,
        deadline: number | undefined,
      ): FastifyReply | Promise<FastifyReply> => {
        if (caller !== undefined) span.setAttribute('peer.service', caller.service);
        const input = {
          params: parse('params', route.params, request.params),
          query: parse('query', route.query, request.query),
          body: parse('body', route.body, request.body),
          headers,
        };
        ctx = new RequestCtx(deps, requestId, span, deadline, caller, request, reply, log, clients);
        const pending = route.handler(input, ctx);
        if (deadline !== undefined) return ctx.bounded(pending).then(respond, fail);
        if (pending instanceof Promise) return pending.then(respond, fail);
        return respond(pending);
      };

      try {
        if (phase !== 'ready')
          throw new ServiceError(
            503,
            phase === 'starting' ? 'STARTING' : 'SHUTTING_DOWN',
            `service ${name} is ${phase}`,
            {
              retryAfterSeconds: 1,
            },
          );
        const deadline = parseDeadline(headers[DEADLINE_HEADER]);
        if (deadline !== undefined && deadline <= Date.now())
          throw new ServiceError(
            504,
            'DEADLINE_EXCEEDED',
            "the caller's deadline had passed when the request arrived",
            {
              retryable: false,
            },
          );
        if (!needsAuth) return run(undefined, deadline);
        const token = bearer(headers.authorization);
        const known = tokens.verified(token);
        if (known !== undefined) return run(known, deadline);
        return tokens.verify(token).then(
          (caller) => {
            try {
              return run(caller, deadline);
            } catch (err) {
              return fail(err);
            }
          },
          (err: unknown) =>
            fail(isInvalidTokenError(err) ? new ServiceError(401, 'UNAUTHENTICATED', err.message) : err),
        );
      } catch (err) {
        return fail(err);
      }
    };
  }

  function bearer(header: string | undefined): string {
    if (header === undefined || !header.startsWith('Bearer ') || header.length < 8)
      throw new ServiceError(401, 'UNAUTHENTICATED', 'a service token is required (Authorization: Bearer …)');
    return header.slice(7);
  }

  function sendError(reply: FastifyReply, err: unknown, requestId: string, traceId: string): number {
    const mapped = mapError(err, requestId);
    if (mapped.internal) log.error({ err, reqId: requestId, traceId }, 'request failed');
    else if (mapped.status >= 500)
      log.warn({ code: mapped.body.error.code, reqId: requestId, traceId }, mapped.body.error.message);
    if (mapped.retryAfterSeconds !== undefined) reply.header('retry-after', String(mapped.retryAfterSeconds));
    reply.code(mapped.status).send(mapped.body);
    return mapped.status;
  }

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`, false));
  });
  app.setErrorHandler((err, request, reply) => {
    const e = err as { code?: string; statusCode?: number; message?: string };
    const [status, code, message] = fastifyError(e);
    if (status >= 500) log.error({ err, url: request.url }, 'request failed before reaching a handler');
    reply.code(status).send(errorBody(code, message, false));
  });

  app.get('/health/live', (_req, reply) => reply.send({ status: 'alive' }));
  app.get('/health/startup', (_req, reply) =>
    reply
      .code(phase === 'starting' ? 503 : 200)
      .send({ status: phase === 'starting' ? 'starting' : 'started' }),
  );
  app.get('/health/ready', async (_req, reply) => {
    const report = readiness(phase, phase === 'ready' ? await runChecks(checks) : {});
    return reply.code(report.status === 'ready' ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
  app.get('/internal/info', async (_req, reply) => {
    const extra =
      phase === 'ready' && service.options.info !== undefined ? await service.options.info(deps) : {};
    return reply.send({
      ...extra,
      name,
      version,
      phase,
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
      routes: service.routes.map((r) => ({ method: r.method, path: r.path, auth: r.auth ?? 'service' })),
    });
  });
  app.get('/internal/policies', (_req, reply) => reply.send({ upstreams: clients.snapshots() }));
  app.get('/internal/spans', (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const sinceMs = q.sinceMs === undefined ? undefined : Number(q.sinceMs);
    const after = q.after === undefined ? undefined : Number(q.after);
    const limit = q.limit === undefined ? undefined : Number(q.limit);
    if (
      (sinceMs !== undefined && !Number.isFinite(sinceMs)) ||
      (after !== undefined && !(Number.isSafeInteger(after) && after >= 0)) ||
      (limit !== undefined && !(limit >= 1))
    )
      return reply
        .code(400)
        .send(errorBody('VALIDATION_FAILED', 'sinceMs, after and limit must be non-negative numbers', false));
    // `next` first: nothing is recorded between the two reads (one synchronous turn).
    const next = tracer.recorded();
    return reply.send({
      spans: tracer.spans({
        ...(q.traceId === undefined ? {} : { traceId: q.traceId }),
        ...(sinceMs === undefined ? {} : { sinceMs }),
        ...(after === undefined ? {} : { after }),
        ...(limit === undefined ? {} : { limit }),
      }),
      next,
    });
  });

  const port = options.port ?? runtime.FLOTILLA_PORT ?? runtime.PORT ?? 0;
  const host = options.host ?? runtime.FLOTILLA_HOST;
  await app.listen({ port, host });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;

  const closeResources = async (): Promise<boolean> => {
    let clean = true;
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        clean = false;
        log.error({ err }, 'closing a resource failed');
      }
    }
    closers.length = 0;
    return clean;
  };

  try {
    if (service.options.setup !== undefined) {
      deps = await service.options.setup({
        service: name,
        config: ownConfig as never,
        env,
        log,
        clients,
        tracer,
        metrics,
        onClose: (close) => closers.push(close),
        addCheck: (check) => checks.push(check),
      });
    }
    checks.push(...(service.options.checks?.(deps) ?? []));
  } catch (err) {
    phase = 'stopped';
    await app.close();
    await closeResources();
    throw new ServiceStartError(
      name,
      `setup failed: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
  phase = 'ready';
  log.info({ url, version }, `${name} ready`);

  let closing: Promise<{ clean: boolean }> | undefined;
  const running: RunningService<Deps> = {
    name,
    url,
    port: actualPort,
    get deps() {
      return deps;
    },
    get phase() {
      return phase;
    },
    log,
    tracer,
    metrics,
    clients,
    inject: (request) => app.inject(request as never) as never,
    close() {
      closing ??= (async () => {
        phase = 'draining';
        log.info({ shutdownDelayMs, drainTimeoutMs }, `${name} draining`);
        if (shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, shutdownDelayMs));
        let clean = true;
        let timer: NodeJS.Timeout | undefined;
        // Keep-alive connections whose last request finishes during the drain would otherwise
        // stay open until the client closes them; close each as soon as it goes idle.
        const idleSweeper = setInterval(() => app.server.closeIdleConnections(), 50);
        const drained = await Promise.race([
          app.close().then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), drainTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
        clearInterval(idleSweeper);
        if (!drained) {
          clean = false;
          log.warn(
            { drainTimeoutMs },
            'in-flight requests did not finish in time; closing their connections',
          );
          app.server.closeAllConnections();
        }
        if (!(await closeResources())) clean = false;
        phase = 'stopped';
        log.info({ clean }, `${name} stopped`);
        return { clean };
      })();
      return closing;
    },
  };
  return running;
}

/** Raised when a service cannot start (bad configuration, failed setup); the process should exit non-zero. */
export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError';
  readonly code = 'SERVICE_START_FAILED';

  constructor(
    /** The service that failed to start. */
    readonly service: string,
    message: string,
    cause?: unknown,
  ) {
    super(`${service}: ${message}`, cause === undefined ? undefined : { cause });
  }
}

/** The request context handed to handlers; the signal and logger are created only when used. */
class RequestCtx<Deps> implements RequestContext<Deps> {
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private childLog: Logger | undefined;
  private onClose: (() => void) | undefined;

  constructor(
    readonly deps: Deps,
    readonly requestId: string,
    readonly span: ActiveSpan,
    readonly deadline: number | undefined,
    readonly caller: CallerIdentity | undefined,
    private readonly request: FastifyRequest,
    private readonly replyRef: FastifyReply,
    private readonly baseLog: Logger,
    private readonly clients: Clients,
  ) {}

  get trace(): TraceContext {
    return this.span.context;
  }

  get user(): EndUser | undefined {
    return this.caller?.user;
  }

  get idempotencyKey(): string | undefined {
    const v = this.request.headers['idempotency-key'];
    return typeof v === 'string' && v !== '' ? v : undefined;
  }

  get log(): Logger {
    this.childLog ??= this.baseLog.child({ reqId: this.requestId, traceId: this.span.context.traceId });
    return this.childLog;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      const res = this.replyRef.raw;
      this.onClose = () => {
        if (!res.writableFinished)
          controller.abort(
            new ServiceError(499, 'CLIENT_CLOSED', 'the client closed the connection', { retryable: false }),
          );
      };
      res.once('close', this.onClose);
      if (this.deadline !== undefined) {
        const remaining = Math.max(0, this.deadline - Date.now());
        this.timer = setTimeout(
          () =>
            controller.abort(
              new ServiceError(504, 'DEADLINE_EXCEEDED', "the caller's deadline passed", {
                retryable: false,
              }),
            ),
          remaining,
        );
      }
    }
    return this.controller.signal;
  }

  client(service: string): ServiceClient {
    const context: CallContext = {
      trace: this.span.context,
      deadline: this.deadline,
      user: this.caller?.user,
      signal: this.signal,
      requestId: this.requestId,
    };
    return this.clients.get(service).with(context);
  }

  /** Races the handler against the deadline: past it, the request answers 504 and the signal aborts. */
  bounded<T>(pending: T | Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      Promise.resolve(pending).then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    if (this.onClose !== undefined) this.replyRef.raw.removeListener('close', this.onClose);
  }
}

function parse(
  location: 'params' | 'query' | 'body',
  schema: z.ZodType | undefined,
  value: unknown,
): unknown {
  if (schema === undefined) return location === 'body' ? undefined : value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    location,
    field: issue.path.map(String).join('.'),
    code: issue.code,
    message: issue.message,
  }));
  const first = details[0];
  const summary =
    first === undefined
      ? `invalid ${location}`
      : `${location}${first.field === '' ? '' : `.${first.field}`}: ${first.message}`;
  throw new ServiceError(400, 'VALIDATION_FAILED', summary, { details, retryable: false });
}

function fastifyError(e: { code?: string; statusCode?: number; message?: string }): [number, string, string] {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return [413, 'PAYLOAD_TOO_LARGE', 'request body is too large'];
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return [415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON with content-type: application/json'];
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return [400, 'MALFORMED_JSON', 'content-type is application/json but the body is empty'];
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return [400, 'BAD_REQUEST', 'content-length does not match the body'];
    default:
      break;
  }
  if (e.statusCode === 400 && e.message !== undefined && /JSON/i.test(e.message))
    return [400, 'MALFORMED_JSON', 'the body is not valid JSON'];
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)
    return [e.statusCode, 'BAD_REQUEST', 'the request is malformed'];
  return [500, 'INTERNAL', 'internal error'];
}

/** Answers 405 with `Allow` for methods a path does not declare. */
function registerMethodNotAllowed<Deps>(app: FastifyInstance, routes: readonly AnyRoute<Deps>[]): void {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) byPath.set(r.path, (byPath.get(r.path) ?? new Set()).add(r.method));
  for (const [path, declared] of byPath) {
    const missing = METHODS.filter((m) => !declared.has(m));
    if (missing.length === 0) continue;
    const allow = [...declared, ...(declared.has('GET') ? ['HEAD'] : [])].join(', ');
    app.route({
      method: missing,
      url: path,
      handler: (request, reply) =>
        reply
          .code(405)
          .header('allow', allow)
          .send(
            errorBody(
              'METHOD_NOT_ALLOWED',
              `${request.method} is not allowed on ${path} (allowed: ${allow})`,
              false,
            ),
          ),
    });
  }
}
