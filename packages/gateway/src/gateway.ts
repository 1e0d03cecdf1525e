import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Clock, type Disposable, systemClock } from '@flotilla/resilience';
import {
  createLogger,
  createTracer,
  type Discovery,
  discovery as envDiscovery,
  serviceTokens,
  type Tracer,
  tracesPerSecondFromEnv,
} from '@flotilla/service';
import type { Logger } from 'pino';
import { createAdminApi } from './admin-api.js';
import type { GatewayConfig, GatewayConfigInput } from './config.js';
import type { ConfigIssue } from './config-error.js';
import { isGatewayConfigError } from './config-error.js';
import { loadGatewayConfig, validateGatewayConfig, watchConfigFile } from './config-loader.js';
import { errorJson } from './error-reply.js';
import type { GatewayContext } from './exchange.js';
import { GatewayMetrics } from './metrics.js';
import { createPartCall } from './part-call.js';
import { handleRequest } from './pipeline.js';
import { RedisRateLimitStore } from './redis-rate-limit.js';
import { SECURITY_HEADERS } from './security.js';
import { ServiceTokenCache } from './service-token-cache.js';
import { type CompileContext, compileSnapshot, releaseSnapshot, type Snapshot } from './snapshot.js';
import type { Upstream, UpstreamReport } from './upstream-pool.js';

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /**
   * The configuration: the path of a JSON or module file (watched and reloaded when it changes),
   * or the configuration itself (validated).
   */
  config: string | GatewayConfigInput;
  /**
   * Reload when the configuration file changes.
   * @default true when `config` is a path
   */
  watch?: boolean;
  /**
   * Where upstream services are found.
   * @default discovery() from the environment (`FLOTILLA_<SERVICE>_URL`, `FLOTILLA_TOPOLOGY`)
   */
  discovery?: Discovery;
  /**
   * Key that signs the service tokens sent upstream (at least 32 bytes). Without one, the gateway
   * sends no `authorization` upstream (fine for non-Flotilla upstreams; Flotilla services refuse it).
   * @default process.env.FLOTILLA_SERVICE_KEY
   */
  serviceKey?: string;
  /**
   * Bearer token of the admin API; without one the admin API is disabled.
   * @default process.env.FLOTILLA_ADMIN_TOKEN
   */
  adminToken?: string;
  /** The gateway's name: issuer of its service tokens, `service` of its log lines. @default 'gateway' */
  name?: string;
  /** The pino logger. @default createLogger({ service: name }) from @flotilla/service */
  logger?: Logger;
  /** One log line per request (method, route, upstream, status, duration, ids). @default true */
  accessLog?: boolean;
  /**
   * Records the gateway's spans: a server span per request and a client span per upstream attempt,
   * aggregate part and shadow copy (whose id is the parent that upstream sees in `traceparent`).
   * They are served at `GET /__admin/spans`.
   * @default createTracer({ service: name, capacity: spanCapacity }) from @flotilla/service
   */
  tracer?: Tracer;
  /**
   * How many finished spans the default tracer keeps in memory (ignored with `tracer`).
   * @default 5000
   */
  spanCapacity?: number;
  /**
   * New traces the default tracer samples per second at most (ignored with `tracer`); requests
   * beyond it are traced but not recorded, and tell their upstreams so in `traceparent`. See
   * `TracerOptions.maxTracesPerSecond` in @flotilla/service.
   * @default process.env.FLOTILLA_TRACES_PER_SECOND, else every trace
   */
  maxTracesPerSecond?: number;
  /**
   * Trust `x-forwarded-for/-proto/-host` from clients (the gateway is behind a proxy of yours):
   * they are extended instead of replaced, and the client address for rate limits is the first
   * `x-forwarded-for` entry.
   * @default false
   */
  trustProxy?: boolean;
  /** Largest request head (request line and headers), in bytes; larger ones get a 431. @default 16384 */
  maxHeaderBytes?: number;
  /**
   * Prefix of the Redis keys of rate limits (`rateLimit.store.redis`): gateways with the same
   * prefix share buckets, so systems sharing one Redis use one prefix each.
   * @default process.env.FLOTILLA_RATE_LIMIT_PREFIX ?? 'flotilla:gateway:rl:'
   */
  redisKeyPrefix?: string;
  /** Source of time for breakers, buckets and timeouts; tests pass a `manualClock()`. @default systemClock */
  clock?: Clock;
  /** Wall clock, epoch ms (token expiry). @default Date.now */
  now?: () => number;
  /** Where `env:NAME` secrets and the defaults above are read. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Options of {@link Gateway.listen} and {@link startGateway}. */
export interface ListenOptions {
  /** @default process.env.FLOTILLA_PORT ?? process.env.PORT ?? 8080 */
  port?: number;
  /** @default process.env.FLOTILLA_HOST ?? '127.0.0.1' */
  host?: string;
}

/** A reload's outcome, as told to {@link Gateway.onReload} listeners. */
export type ReloadEvent =
  | { readonly type: 'applied'; readonly version: number; readonly source: string }
  | { readonly type: 'rejected'; readonly source: string; readonly issues: readonly ConfigIssue[] };

/** A running API gateway. */
export interface Gateway {
  /** The node:http server (not listening until {@link listen}). */
  readonly server: Server;
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
  /** Starts listening; resolves with the base URL. */
  listen(options?: ListenOptions): Promise<string>;
  /** The configuration in force. */
  config(): GatewayConfig;
  /**
   * Replaces the configuration atomically (requests in flight finish on the old one). Without
   * an argument, re-reads the configuration file. Rejects with a `GatewayConfigError` and keeps
   * the old configuration when the new one is invalid.
   */
  reload(config?: string | GatewayConfigInput): Promise<void>;
  /** Calls `listener` after every reload attempt (file change, admin API, `reload()`). */
  onReload(listener: (event: ReloadEvent) => void): Disposable;
  /** The Prometheus exposition text served at `/metrics`. */
  metrics(): Promise<string>;
  /** The tracer recording the gateway's spans (served at `GET /__admin/spans`). */
  readonly tracer: Tracer;
  /** Stops accepting requests, waits for those in flight, closes pools and stores. */
  close(): Promise<void>;
}

/**
 * Creates an API gateway from a declarative configuration: routing, streaming proxying with
 * per-upstream resilience policies, JWT authentication, rate limits, CORS, traffic splits with
 * shadow comparisons and automatic rollback, aggregation, an admin API, `/metrics` and health.
 *
 * @example
 * const gateway = await createGateway({ config: 'gateway.json' });
 * console.log(`gateway at ${await gateway.listen({ port: 8080 })}`);
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const name = options.name ?? 'gateway';
  const clock = options.clock ?? systemClock;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createLogger({ service: name, level: env.FLOTILLA_LOG_LEVEL ?? 'info' });
  const file = typeof options.config === 'string' ? options.config : undefined;
  const initial =
    file !== undefined
      ? await loadGatewayConfig(file, { env })
      : validateGatewayConfig(options.config, { env, source: 'options.config' });
  const ownDiscovery = options.discovery === undefined;
  const found = options.discovery ?? envDiscovery({ env });
  const metrics = new GatewayMetrics();
  const { spanCapacity } = options;
  if (spanCapacity !== undefined && !(Number.isInteger(spanCapacity) && spanCapacity >= 1))
    throw new RangeError(`createGateway: spanCapacity must be an integer >= 1, got ${String(spanCapacity)}`);
  const tracer =
    options.tracer ??
    createTracer({
      service: name,
      ...(spanCapacity === undefined ? {} : { capacity: spanCapacity }),
      maxTracesPerSecond:
        options.maxTracesPerSecond ?? tracesPerSecondFromEnv(env.FLOTILLA_TRACES_PER_SECOND),
    });
  const serviceKey = options.serviceKey ?? env.FLOTILLA_SERVICE_KEY;
  const tokens =
    serviceKey === undefined || serviceKey === ''
      ? undefined
      : new ServiceTokenCache(serviceTokens({ service: name, key: serviceKey }), (err) =>
          logger.error({ err }, 'renewing a service token failed'),
        );
  if (tokens === undefined)
    logger.warn(
      'FLOTILLA_SERVICE_KEY is not set: upstream requests carry no service token (Flotilla services will refuse them)',
    );

  let current: Snapshot | undefined;
  let serverRef: Server | undefined;
  let version = 0;
  let listeners: ((event: ReloadEvent) => void)[] = [];
  let closing = false;
  let lastStoreWarning = Number.NEGATIVE_INFINITY;
  const compileCtx: CompileContext = {
    discovery: found,
    clock,
    metrics,
    logger,
    env,
    now,
    redisPrefix: options.redisKeyPrefix ?? env.FLOTILLA_RATE_LIMIT_PREFIX ?? 'flotilla:gateway:rl:',
    upstreams: new Map<string, Upstream>(),
    partCall: (snapshot) => createPartCall(snapshot, { tokens, now, clock, tracer }),
    onRateLimitStoreError: (err) => {
      metrics.rateLimitStoreErrors.inc();
      const t = clock.now();
      if (t - lastStoreWarning >= 10_000) {
        lastStoreWarning = t;
        logger.warn(
          { err },
          'rate-limit store (Redis) unavailable: requests pass without a limit (fail open)',
        );
      }
    },
  };
  const context: GatewayContext = {
    name,
    metrics,
    logger,
    accessLog: options.accessLog ?? true,
    tokens,
    trustProxy: options.trustProxy ?? false,
    now,
    unmatched: metrics.statsFor('(none)', 'none'),
    tracer,
    release: (snapshot) => releaseSnapshot(snapshot, current, compileCtx),
  };

  const swap = (config: GatewayConfig, source: string): void => {
    const next = compileSnapshot(config, ++version, current, compileCtx);
    const old = current;
    current = next;
    if (old !== undefined) {
      old.retired = true;
      for (const s of old.subscriptions) s.dispose();
      if (old.inflight === 0) releaseSnapshot(old, next, compileCtx);
    }
    if (serverRef !== undefined) serverRef.requestTimeout = config.limits.requestTimeoutMs + 5_000;
    metrics.reloads.inc({ result: 'applied' });
    emit({ type: 'applied', version: next.version, source });
  };
  const emit = (event: ReloadEvent): void => {
    for (const listener of listeners) listener(event);
  };
  const reject = (source: string, err: unknown): never => {
    metrics.reloads.inc({ result: 'rejected' });
    const issues = isGatewayConfigError(err)
      ? err.issues
      : [{ path: '(root)', message: (err as Error).message }];
    logger.error({ source, issues }, 'configuration refused; the previous one stays in force');
    emit({ type: 'rejected', source, issues });
    throw err;
  };
  // One reload at a time, in order: a slow module import must not let an older file win.
  let queue: Promise<unknown> = Promise.resolve();
  const reload = (config: string | GatewayConfigInput | undefined, source: string): Promise<void> => {
    const run = async (): Promise<void> => {
      try {
        const path = config === undefined ? file : typeof config === 'string' ? config : undefined;
        if (config === undefined && path === undefined)
          throw new Error('the gateway has no configuration file to re-read');
        const next =
          path !== undefined
            ? await loadGatewayConfig(path, { env })
            : validateGatewayConfig(config, { env, source });
        swap(next, path ?? source);
      } catch (err) {
        reject(source, err);
      }
    };
    const result = queue.then(run, run);
    queue = result.catch(() => {});
    return result;
  };

  swap(initial, file ?? 'options.config');
  const limits = (current as Snapshot | undefined)?.limits;
  if (limits instanceof RedisRateLimitStore) await limits.ready(2_000);
  const watcher =
    file !== undefined && options.watch !== false
      ? watchConfigFile(file, () => {
          reload(undefined, file).catch(() => {});
        })
      : undefined;
  const discoveryChange = found.onChange?.((services) => {
    for (const upstream of compileCtx.upstreams.values())
      if (services.includes(upstream.service)) upstream.refresh();
  });

  const admin = createAdminApi(options.adminToken ?? env.FLOTILLA_ADMIN_TOKEN, {
    config: () => (current as Snapshot).config,
    apply: async (input) => {
      try {
        await reload(input as GatewayConfigInput, 'admin API');
        return undefined;
      } catch (err) {
        if (isGatewayConfigError(err)) return err.issues;
        return [{ path: '(root)', message: (err as Error).message }];
      }
    },
    routes: () => routesReport(current as Snapshot),
    migrations: () => [...(current as Snapshot).splits.values()].map((s) => s.controller.status()),
    setWeight: (routeId, weight) => {
      const split = (current as Snapshot).splits.get(routeId);
      if (split === undefined) return undefined;
      split.controller.setWeight(weight);
      logger.info({ route: routeId, weight }, 'migration weight set through the admin API');
      return split.controller.status();
    },
    upstreams: () => upstreamReports(current as Snapshot),
    tracer,
  });
  metrics.readBreakers(() =>
    [...(current?.upstreams.values() ?? [])].map((u) => ({ upstream: u.service, state: u.breaker.state })),
  );

  let listening = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    const url = req.url as string;
    const second = url.charCodeAt(1);
    // Only paths that may be the gateway's own go through the string comparisons.
    if (second === 95 /* _ */ || second === 109 /* m */ || second === 104 /* h */) {
      const path = url.split('?', 1)[0] as string;
      if (path === '/__admin' || path.startsWith('/__admin/')) {
        admin(req, res, path).catch((err: unknown) => {
          logger.error({ err }, 'admin API failed');
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
        return;
      }
      if (path === '/metrics' && req.method === 'GET') {
        metrics.text().then(
          (text) => plain(res, 200, text, 'text/plain; version=0.0.4; charset=utf-8'),
          (err: unknown) => plain(res, 500, String(err), 'text/plain'),
        );
        return;
      }
      if (path === '/health/live') {
        json(res, 200, { status: 'live' });
        return;
      }
      if (path === '/health/startup') {
        // Once started, started: a reload or a drain is for readiness to report.
        const started = listening && current !== undefined;
        json(res, started ? 200 : 503, { status: started ? 'started' : 'starting' });
        return;
      }
      if (path === '/health/ready') {
        const ready = listening && !closing && current !== undefined;
        json(res, ready ? 200 : 503, {
          status: ready ? 'ready' : closing ? 'stopping' : 'starting',
          configVersion: version,
        });
        return;
      }
    }
    const snapshot = current as Snapshot;
    snapshot.inflight++;
    try {
      handleRequest(context, snapshot, req, res, startedAt);
    } catch (err) {
      // A bug must cost one request, never the process.
      logger.error({ err, url }, 'request handling failed');
      if (!res.headersSent)
        json(
          res,
          500,
          JSON.parse(
            errorJson({ status: 500, code: 'INTERNAL', message: 'internal gateway error', retryable: true }),
          ),
        );
      else res.destroy();
    }
  };

  const server = createServer(
    {
      maxHeaderSize: options.maxHeaderBytes ?? 16_384,
      // Node's own limit on receiving a whole request (a slow-loris body); kept in step with reloads.
      requestTimeout: initial.limits.requestTimeoutMs + 5_000,
      headersTimeout: Math.min(30_000, initial.limits.requestTimeoutMs + 5_000),
      keepAliveTimeout: 65_000,
      requireHostHeader: false,
      noDelay: true,
    },
    onRequest,
  );
  serverRef = server;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
  // CONNECT is never proxied.
  server.on('connect', (_req: IncomingMessage, socket: Socket) =>
    answerClientError(Object.assign(new Error('CONNECT'), { code: 'CONNECT' }), socket),
  );

  let url: string | undefined;
  return {
    server,
    get url() {
      return url;
    },
    async listen(listenOptions = {}) {
      const port = listenOptions.port ?? Number(env.FLOTILLA_PORT ?? env.PORT ?? 8080);
      const host = listenOptions.host ?? env.FLOTILLA_HOST ?? '127.0.0.1';
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      listening = true;
      logger.info({ url, routes: (current as Snapshot).routes.length }, 'gateway listening');
      return url;
    },
    config: () => (current as Snapshot).config,
    reload: (config) => reload(config, config === undefined ? (file ?? 'reload()') : 'reload()'),
    onReload(listener) {
      listeners = [...listeners, listener];
      return { dispose: () => (listeners = listeners.filter((l) => l !== listener)) };
    },
    metrics: () => metrics.text(),
    tracer,
    async close() {
      if (closing) return;
      closing = true;
      watcher?.close();
      discoveryChange?.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        if (!listening) resolve();
      });
      const last = current;
      if (last !== undefined) {
        last.retired = true;
        for (const s of last.subscriptions) s.dispose();
        current = undefined;
        releaseSnapshot(last, undefined, compileCtx);
      }
      if (ownDiscovery) found.close?.();
    },
  };
}

/** Creates a gateway and starts listening. */
export async function startGateway(options: GatewayOptions & ListenOptions): Promise<Gateway> {
  const gateway = await createGateway(options);
  await gateway.listen({
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.host === undefined ? {} : { host: options.host }),
  });
  return gateway;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  plain(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

function plain(res: ServerResponse, status: number, text: string, type: string): void {
  res.writeHead(status, [
    'content-type',
    type,
    'content-length',
    String(Buffer.byteLength(text)),
    'cache-control',
    'no-store',
    ...SECURITY_HEADERS,
  ]);
  res.end(text);
}

const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string, string]>> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'HEADERS_TOO_LARGE',
    'the request head is larger than the gateway accepts',
  ],
  HPE_INVALID_METHOD: [400, 'Bad Request', 'INVALID_METHOD', 'the request method is not valid'],
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'Request Timeout',
    'REQUEST_TIMEOUT',
    'the request was not received in time',
  ],
  CONNECT: [405, 'Method Not Allowed', 'METHOD_NOT_ALLOWED', 'CONNECT is not supported'],
};

/** Answers a request node's parser refused (malformed, head too large) in the standard shape, and closes. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
    400,
    'Bad Request',
    'MALFORMED_REQUEST',
    'the request is not valid HTTP/1.1',
  ];
  const body = errorJson({ status, code, message, retryable: status === 408 });
  const headers: string[] = [];
  for (let i = 0; i < SECURITY_HEADERS.length; i += 2)
    headers.push(`${SECURITY_HEADERS[i]}: ${SECURITY_HEADERS[i + 1]}`);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${headers.join('\r\n')}\r\n\r\n${body}`,
  );
}

function routesReport(snapshot: Snapshot): unknown[] {
  return snapshot.routes.map((r) => ({
    id: r.id,
    methods: r.config.match.method === undefined ? 'any' : [r.config.match.method].flat(),
    path: r.config.match.path,
    kind: r.split !== undefined ? 'split' : r.aggregator !== undefined ? 'aggregate' : 'upstream',
    auth: r.auth === 'public' ? 'public' : { scopes: r.auth },
    targets:
      r.split !== undefined
        ? [r.split.legacy.config, r.split.candidate.config]
        : r.target === undefined
          ? undefined
          : [r.target.config],
    aggregate: r.config.aggregate,
    rateLimit: r.config.rateLimit,
  }));
}

function upstreamReports(snapshot: Snapshot): UpstreamReport[] {
  return [...snapshot.upstreams.values()].map((u) => u.report());
}
