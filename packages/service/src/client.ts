import {
  type AnyPolicy,
  type Clock,
  type Disposable,
  pipeline,
  type RandomSource,
  systemClock,
  timeout,
} from '@flotilla/resilience';
import { Pool } from 'undici';
import { Watchdog } from './call-cancel.js';
import { type AttemptPolicy, type CallTarget, type Connection, call } from './client-call.js';
import type {
  CallContext,
  CallOptions,
  ClientResponse,
  Clients,
  ServiceClient,
  UpstreamSnapshot,
} from './client-types.js';
import type { Discovery } from './discovery.js';
import { type LoadBalancer, loadBalancer } from './load-balancer.js';
import type { HttpMethod } from './route.js';
import type { ServiceTokens } from './tokens.js';
import type { Tracer } from './tracer.js';
import {
  buildPolicies,
  DEFAULT_UPSTREAM_POLICIES,
  mergePolicies,
  type UpstreamPolicies,
  type UpstreamPolicyOverrides,
  type UpstreamPolicySet,
} from './upstream-policies.js';

export type {
  BreakerSettings,
  BulkheadSettings,
  RetrySettings,
  UpstreamPolicies,
  UpstreamPolicyOverrides,
} from './upstream-policies.js';

/** The logger the clients report breaker and ejection changes to (pino fits). */
export interface ClientLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/** Options of {@link createClients}. */
export interface ClientsOptions {
  /** This service's name, for log lines and error messages. */
  caller: string;
  /** Where upstream instances are found. */
  discovery: Discovery;
  /** Mints the service tokens sent as `authorization`. @default none: no `authorization` header */
  tokens?: ServiceTokens;
  /** Records a client span per call. @default none (a `traceparent` is still sent) */
  tracer?: Tracer;
  /** Policies for every upstream, merged over the built-in defaults. */
  defaults?: UpstreamPolicyOverrides;
  /** Policies per upstream, merged over `defaults`, e.g. `{ payment: { timeoutMs: 2_000 } }`. */
  policies?: Readonly<Record<string, UpstreamPolicyOverrides>>;
  /** Source of time for every policy and ejection; pass a `manualClock()` in tests. @default systemClock */
  clock?: Clock;
  /** Wall clock in epoch milliseconds, for deadlines. @default Date.now */
  now?: () => number;
  /** Source of uniform numbers in [0, 1), for backoff jitter and load balancing. @default Math.random */
  random?: RandomSource;
  /** Where breaker state changes and ejections are reported. @default none */
  logger?: ClientLogger;
}

/**
 * Creates the clients of one service: one {@link ServiceClient} per upstream, created on first
 * use, each with its own connection pools (one per instance), load balancer, retry budget and
 * one composed policy, outermost first: retry → circuit breaker → per-attempt timeout → bulkhead.
 * Each attempt picks an instance, so a retry may go to another one.
 *
 * @example
 * const clients = createClients({
 *   caller: 'order',
 *   discovery: discovery(),
 *   tokens: serviceTokens({ service: 'order', key: process.env.FLOTILLA_SERVICE_KEY! }),
 *   policies: { payment: { timeoutMs: 2_000, retry: { maxAttempts: 2 } } },
 * });
 * const payment = await clients.get('payment').post<Payment>('/payments', {
 *   body: { orderId, amountCents },
 *   idempotencyKey: `${sagaId}:process_payment`,
 * });
 */
export function createClients(options: ClientsOptions): Clients {
  if (typeof options.caller !== 'string' || options.caller === '')
    throw new TypeError(
      `createClients.caller must be a non-empty string, got ${JSON.stringify(options.caller)}`,
    );
  if (typeof options.discovery?.resolve !== 'function')
    throw new TypeError('createClients.discovery must be a Discovery (an object with a resolve method)');
  const base = mergePolicies(DEFAULT_UPSTREAM_POLICIES, options.defaults, 'defaults');
  const configured = new Map<string, UpstreamPolicies>();
  for (const [service, overrides] of Object.entries(options.policies ?? {}))
    configured.set(service, mergePolicies(base, overrides, `policies.${service}`));
  const shared: Shared = {
    caller: options.caller,
    discovery: options.discovery,
    tokens: options.tokens,
    tracer: options.tracer,
    clock: options.clock ?? systemClock,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
    logger: options.logger,
  };
  // Built once now so a bad setting fails at startup, not at the first call.
  buildPolicies('(defaults)', base, shared.clock, shared.random, 'defaults');
  for (const [service, policies] of configured)
    buildPolicies(service, policies, shared.clock, shared.random, `policies.${service}`);

  const upstreams = new Map<string, Upstream>();
  let closed = false;
  const subscription: Disposable | undefined = options.discovery.onChange?.((services) => {
    for (const service of services) upstreams.get(service)?.refresh();
  });

  return {
    get(service) {
      const existing = upstreams.get(service);
      if (existing !== undefined) return existing.client;
      if (typeof service !== 'string' || service === '')
        throw new TypeError(
          `clients.get(service) needs a non-empty service name, got ${JSON.stringify(service)}`,
        );
      if (closed) throw new Error(`clients of ${shared.caller} are closed`);
      const upstream = new Upstream(service, configured.get(service) ?? base, shared);
      upstreams.set(service, upstream);
      return upstream.client;
    },
    snapshots() {
      return [...upstreams.values()].map((u) => u.snapshot());
    },
    async close() {
      closed = true;
      subscription?.dispose();
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    },
  };
}

/** What every upstream of one `createClients` shares. */
interface Shared {
  readonly caller: string;
  readonly discovery: Discovery;
  readonly tokens: ServiceTokens | undefined;
  readonly tracer: Tracer | undefined;
  readonly clock: Clock;
  readonly now: () => number;
  readonly random: RandomSource;
  readonly logger: ClientLogger | undefined;
}

/** Everything the clients keep for one upstream service. */
class Upstream implements CallTarget {
  readonly client: ServiceClient;
  readonly balancer: LoadBalancer<Connection>;
  readonly timeoutMs: number;
  readonly tokens: ServiceTokens | undefined;
  readonly tracer: Tracer | undefined;
  readonly clock: Clock;
  readonly now: () => number;
  readonly queues: boolean;
  private readonly policies: UpstreamPolicySet;
  private readonly composed: AttemptPolicy;
  /** Pipelines for calls with their own `timeoutMs`, sharing every other policy. */
  private readonly byTimeout = new Map<number, AttemptPolicy>();
  private readonly closing: Promise<void>[] = [];
  /** Log subscriptions, disposed on close. */
  private readonly subscriptions: Disposable[] = [];
  private resolved = false;
  closed = false;

  constructor(
    readonly service: string,
    readonly config: UpstreamPolicies,
    readonly shared: Shared,
  ) {
    this.timeoutMs = config.timeoutMs;
    this.tokens = shared.tokens;
    this.tracer = shared.tracer;
    this.clock = shared.clock;
    this.now = shared.now;
    this.queues = config.bulkhead !== false && config.bulkhead.queue > 0;
    this.policies = buildPolicies(service, config, shared.clock, shared.random);
    this.composed = this.compose(config.timeoutMs);
    this.balancer = loadBalancer<Connection>({
      strategy: config.loadBalancing,
      outlierDetection: config.outlierDetection,
      clock: shared.clock,
      random: shared.random,
      connect: (url) => {
        const parsed = new URL(url);
        return {
          // No headers or body timeout of undici's own: the attempt timeout (always set) bounds
          // each call, body included; undici's would cost a timer object per request that lives
          // until its next half-second sweep, long enough to reach V8's old generation.
          pool: new Pool(parsed.origin, {
            connections: config.connections,
            headersTimeout: 0,
            bodyTimeout: 0,
          }),
          prefix: trimSlash(parsed.pathname),
        };
      },
      disconnect: ({ pool }) => {
        // Close lets calls in flight finish; a failure to close a pool is nothing to report.
        this.closing.push(pool.close().catch(() => undefined));
      },
    });
    const { logger } = shared;
    if (logger !== undefined) {
      this.subscriptions.push(
        this.balancer.onOutlier((e) =>
          e.type === 'ejected'
            ? logger.warn(
                { upstream: service, instance: e.url, ejectionMs: e.durationMs, times: e.times },
                'instance ejected',
              )
            : logger.info({ upstream: service, instance: e.url }, 'ejected instance returned'),
        ),
      );
      // Listening makes the breaker time its calls (two clock reads each): the price of knowing.
      const breaker = this.policies.breaker;
      if (breaker !== undefined)
        this.subscriptions.push(
          breaker.onStateChange((e) =>
            (e.to === 'closed' ? logger.info : logger.warn).call(
              logger,
              { upstream: service, from: e.from, to: e.to, reason: e.reason },
              `circuit to ${service} is ${e.to}`,
            ),
          ),
        );
    }
    this.client = new Client(this, undefined);
  }

  /** The composed policy for an attempt timeout of `timeoutMs`. */
  policyFor(timeoutMs: number | undefined): AttemptPolicy {
    if (timeoutMs === undefined || timeoutMs === this.config.timeoutMs) return this.composed;
    let policy = this.byTimeout.get(timeoutMs);
    if (policy === undefined) {
      policy = this.compose(timeoutMs);
      // Timeouts are usually a few constants; past that, a one-off pipeline is cheap enough.
      if (this.byTimeout.size < 32) this.byTimeout.set(timeoutMs, policy);
    }
    return policy;
  }

  private compose(timeoutMs: number): AttemptPolicy {
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new RangeError(
        `timeoutMs for upstream "${this.service}" must be a finite number > 0, got ${String(timeoutMs)}`,
      );
    const { retry: r, breaker, bulkhead: b } = this.policies;
    const layers: AnyPolicy[] = [];
    if (r !== undefined) layers.push(r);
    if (breaker !== undefined) layers.push(breaker);
    layers.push(timeout({ name: `${this.service}.timeout`, timeoutMs, clock: this.shared.clock }));
    if (b !== undefined) layers.push(b);
    return { policy: pipeline(...layers), watchdog: new Watchdog(this.clock, timeoutMs) };
  }

  /**
   * Loads the instance list on first use, and again while it is empty (the service left the
   * topology), so calls fail with discovery's explanation of what to set.
   */
  ensureInstances(): void {
    if (this.resolved && this.balancer.size > 0) return;
    this.balancer.update(this.shared.discovery.resolve(this.service));
    this.resolved = true;
  }

  /** Re-reads the instance list after discovery reported a change. */
  refresh(): void {
    if (!this.resolved || this.closed) return;
    let urls: readonly string[];
    try {
      urls = this.shared.discovery.resolve(this.service);
    } catch {
      // The service left the topology: calls now fail with discovery's explanation.
      urls = [];
    }
    this.balancer.update(urls);
  }

  snapshot(): UpstreamSnapshot {
    const budget = this.policies.budget;
    return {
      service: this.service,
      policy: this.composed.policy.snapshot(),
      instances: this.balancer.snapshot(),
      ...(budget === undefined ? {} : { retryBudget: budget.snapshot() }),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subscription of this.subscriptions) subscription.dispose();
    this.balancer.close();
    await Promise.all(this.closing);
  }
}

/** A client of one upstream, optionally bound to a request's context. */
class Client implements ServiceClient {
  readonly service: string;

  constructor(
    private readonly upstream: Upstream,
    private readonly context: CallContext | undefined,
  ) {
    this.service = upstream.service;
  }

  request<T = unknown>(
    method: HttpMethod,
    path: string,
    options?: CallOptions<T>,
  ): Promise<ClientResponse<T>> {
    return call(this.upstream, this.context, method, path, options) as Promise<ClientResponse<T>>;
  }

  get<T = unknown>(path: string, options?: CallOptions<T>): Promise<T> {
    return call(this.upstream, this.context, 'GET', path, options, true) as Promise<T>;
  }

  post<T = unknown>(path: string, options?: CallOptions<T>): Promise<T> {
    return call(this.upstream, this.context, 'POST', path, options, true) as Promise<T>;
  }

  put<T = unknown>(path: string, options?: CallOptions<T>): Promise<T> {
    return call(this.upstream, this.context, 'PUT', path, options, true) as Promise<T>;
  }

  patch<T = unknown>(path: string, options?: CallOptions<T>): Promise<T> {
    return call(this.upstream, this.context, 'PATCH', path, options, true) as Promise<T>;
  }

  delete<T = unknown>(path: string, options?: CallOptions<T>): Promise<T> {
    return call(this.upstream, this.context, 'DELETE', path, options, true) as Promise<T>;
  }

  with(context: CallContext): ServiceClient {
    return new Client(this.upstream, context);
  }
}

function trimSlash(pathname: string): string {
  return pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}
