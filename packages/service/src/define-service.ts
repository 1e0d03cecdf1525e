import type { Clock } from '@flotilla/resilience';
import type { InjectOptions, Response as InjectResponse } from 'light-my-request';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { UpstreamPolicyOverrides } from './client.js';
import type { Clients } from './client-types.js';
import type { EnvSchema } from './config.js';
import type { Discovery } from './discovery.js';
import type { ServicePhase } from './health.js';
import type { HealthCheck } from './health-check.js';
import type { ServiceMetrics } from './http-metrics.js';
import type { AnyRoute, RouteDefinition, Schema } from './route.js';
import { startService } from './server.js';
import type { Tracer } from './tracer.js';

/** What `setup` receives to build the service's dependencies. */
export interface SetupContext<Config> {
  /** The service's name. */
  readonly service: string;
  /** The service's own configuration, parsed from the environment with its `config` schema. */
  readonly config: Config;
  /** The environment the service was started with. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The service logger. */
  readonly log: Logger;
  /** Clients for other services (for background work; handlers use `ctx.client`). */
  readonly clients: Clients;
  /** The service's tracer (for spans outside requests: consumers, saga steps). */
  readonly tracer: Tracer;
  /** The service's Prometheus metrics (add your own to `metrics.registry`). */
  readonly metrics: ServiceMetrics;
  /** Registers a resource to close on shutdown; resources close in reverse order of registration. */
  onClose(close: () => unknown): void;
  /** Adds a readiness check (a database, a transport, a critical upstream). */
  addCheck(check: HealthCheck): void;
}

/** The definition of a service. */
export interface ServiceOptions<Deps, C extends EnvSchema | undefined> {
  /** Lowercase name used in discovery, tokens, logs and metrics, e.g. `"order"`. */
  name: string;
  /** The service's version, reported at `/internal/info`. */
  version: string;
  /** Schema of the service's own environment variables (see `loadConfig`). */
  config?: C;
  /**
   * Builds the service's dependencies (store, transports, domain objects) after the server
   * listens, so `/health/startup` answers during a slow start. Register what must be closed
   * with `onClose`.
   */
  setup?: (
    ctx: SetupContext<C extends EnvSchema ? z.output<C> : Record<string, never>>,
  ) => Deps | Promise<Deps>;
  /** Readiness checks built from the dependencies. */
  checks?: (deps: Deps) => readonly HealthCheck[];
  /**
   * Extra facts for `/internal/info` (read by `flotilla status` and the console), e.g.
   * `{ queues: { outbox: 3 } }` — computed on each request of that endpoint.
   */
  info?: (deps: Deps) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Routes; more can be added with `service.route(...)`. */
  routes?: readonly AnyRoute<Deps>[];
  /**
   * Largest accepted request body, in bytes; larger bodies get 413.
   * @default 1048576
   */
  bodyLimitBytes?: number;
  /** Resilience policy overrides per upstream service, e.g. `{ payment: { timeoutMs: 2000 } }`. */
  upstreams?: Readonly<Record<string, UpstreamPolicyOverrides>>;
}

/** How to start a service; every field overrides the corresponding environment variable. */
export interface StartOptions {
  /** TCP port; 0 picks a free one. Env: `FLOTILLA_PORT` or `PORT`. @default 0 */
  port?: number;
  /** Address to listen on. Env: `FLOTILLA_HOST`. @default '127.0.0.1' */
  host?: string;
  /** Environment to read configuration from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Key for service tokens (at least 32 bytes). Env: `FLOTILLA_SERVICE_KEY`. */
  serviceKey?: string;
  /** A logger to use instead of creating one. */
  logger?: Logger;
  /** Discovery to use instead of the environment's (topology file, `FLOTILLA_<SERVICE>_URL`). */
  discovery?: Discovery;
  /** Policy defaults for every upstream. */
  upstreamDefaults?: UpstreamPolicyOverrides;
  /** Check responses against route `response` schemas. Env: `FLOTILLA_VALIDATE_RESPONSES`. @default true unless NODE_ENV=production */
  validateResponses?: boolean;
  /** Time between readiness turning 503 and the server closing, in ms. Env: `FLOTILLA_SHUTDOWN_DELAY_MS`. @default 0 */
  shutdownDelayMs?: number;
  /** Longest wait for in-flight requests at shutdown, in ms. Env: `FLOTILLA_DRAIN_TIMEOUT_MS`. @default 10000 */
  drainTimeoutMs?: number;
  /** Clock for client policies (tests). @default systemClock */
  clock?: Clock;
}

/** A running service. */
export interface RunningService<Deps> {
  readonly name: string;
  /** Base URL, e.g. `http://127.0.0.1:7101`. */
  readonly url: string;
  readonly port: number;
  /** What `setup` returned. */
  readonly deps: Deps;
  /** `starting`, `ready`, `draining` or `stopped`. */
  readonly phase: ServicePhase;
  readonly log: Logger;
  readonly tracer: Tracer;
  readonly metrics: ServiceMetrics;
  readonly clients: Clients;
  /** Sends a request in-process, without a socket (Fastify's `inject`), for tests. */
  inject(request: InjectOptions | string): Promise<InjectResponse>;
  /**
   * Graceful shutdown: readiness turns 503, the server stops accepting, in-flight requests
   * finish (up to the drain timeout), then resources close in reverse order. `clean` is false
   * when the drain timed out or a resource failed to close.
   */
  close(): Promise<{ clean: boolean }>;
}

/** A defined service: add routes, then start it. */
export interface Service<Deps> {
  readonly name: string;
  readonly version: string;
  /** Every route, in registration order. */
  readonly routes: readonly AnyRoute<Deps>[];
  /** Adds a route (types inferred from its schemas). */
  route<
    PS extends Schema | undefined = undefined,
    QS extends Schema | undefined = undefined,
    BS extends Schema | undefined = undefined,
    RS extends Schema | undefined = undefined,
  >(route: RouteDefinition<Deps, PS, QS, BS, RS>): Service<Deps>;
  /** Starts the server, then runs `setup`. */
  start(options?: StartOptions): Promise<RunningService<Deps>>;
  /** The definition (for tools: docs, doctor). */
  readonly options: ServiceOptions<Deps, EnvSchema | undefined>;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Defines a service: a few lines of domain code, with contracts, errors, request ids, trace
 * context, deadlines, health, metrics, logs, service-to-service auth and graceful shutdown.
 *
 * @example
 * const greeter = defineService({ name: 'greeter', version: '1.0.0' })
 *   .route({
 *     method: 'GET', path: '/hello/:name',
 *     params: z.object({ name: z.string().min(1) }),
 *     response: z.object({ message: z.string() }),
 *     auth: 'none',
 *     handler: ({ params }) => ({ message: `hello ${params.name}` }),
 *   });
 * const running = await greeter.start({ port: 8080, serviceKey });
 */
export function defineService<Deps = undefined, C extends EnvSchema | undefined = undefined>(
  options: ServiceOptions<Deps, C>,
): Service<Deps> {
  if (!NAME.test(options.name))
    throw new RangeError(
      `defineService name must be lowercase letters, digits and dashes, starting with a letter, got ${JSON.stringify(options.name)}`,
    );
  if (typeof options.version !== 'string' || options.version === '')
    throw new RangeError('defineService version must be a non-empty string');
  const routes: AnyRoute<Deps>[] = [];
  const service: Service<Deps> = {
    name: options.name,
    version: options.version,
    routes,
    options: options as ServiceOptions<Deps, EnvSchema | undefined>,
    route(route) {
      validateRoute(route as AnyRoute<Deps>, routes);
      routes.push(route as AnyRoute<Deps>);
      return service;
    },
    start: (start) => startService(service, start ?? {}),
  };
  for (const r of options.routes ?? []) service.route(r);
  return service;
}

const PATH = /^\/[A-Za-z0-9\-._~:/@*]*$/;

function validateRoute<Deps>(route: AnyRoute<Deps>, existing: readonly AnyRoute<Deps>[]): void {
  const where = `route ${route.method} ${route.path}`;
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method))
    throw new RangeError(`${where}: method must be GET, POST, PUT, PATCH or DELETE`);
  if (typeof route.path !== 'string' || !PATH.test(route.path))
    throw new RangeError(`${where}: path must start with "/" and contain only URL path characters`);
  if (route.path.startsWith('/health/') || route.path === '/metrics' || route.path.startsWith('/internal/'))
    throw new RangeError(`${where}: /health/*, /metrics and /internal/* are reserved`);
  if (typeof route.handler !== 'function') throw new TypeError(`${where}: handler must be a function`);
  if (
    route.status !== undefined &&
    (!Number.isInteger(route.status) || route.status < 200 || route.status > 399)
  )
    throw new RangeError(`${where}: status must be an integer in 200..399, got ${route.status}`);
  if (route.body !== undefined && route.method === 'GET')
    throw new RangeError(`${where}: a GET route cannot declare a body`);
  if (existing.some((r) => r.method === route.method && r.path === route.path))
    throw new RangeError(`${where} is declared twice`);
}
