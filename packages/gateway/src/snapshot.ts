import type { Clock, Disposable, TimeoutPolicy } from '@flotilla/resilience';
import { timeout } from '@flotilla/resilience';
import type { Discovery } from '@flotilla/service';
import type { Logger } from 'pino';
import { type Aggregator, createAggregator, type PartCall } from './aggregate.js';
import { createJwtVerifier, type JwtVerifier } from './auth.js';
import type { GatewayConfig, RouteConfig, TargetConfig } from './config.js';
import type { GatewayMetrics, RouteStats } from './metrics.js';
import { compileRewrite, parsePattern, type RewriteTemplate } from './path-pattern.js';
import {
  type BucketRule,
  MemoryRateLimitStore,
  type RateLimitStore,
  type RouteLimiter,
  type RouteLimits,
} from './rate-limit.js';
import { RedisRateLimitStore } from './redis-rate-limit.js';
import { createRouter, type Router } from './router.js';
import { type CorsPolicy, createCorsPolicy, SECURITY_HEADERS } from './security.js';
import { createSplitController, type SplitController } from './split.js';
import {
  DEFAULT_UPSTREAM_SETTINGS,
  MAX_BACKOFF_MS,
  Upstream,
  type UpstreamSettings,
  upstreamKey,
} from './upstream-pool.js';

/** Where a request goes: an upstream, its rewrite and header rules, its stats (internal). */
export interface CompiledTarget {
  readonly service: string;
  readonly config: TargetConfig;
  readonly upstream: Upstream;
  readonly rewrite: RewriteTemplate | undefined;
  /** Client headers not forwarded: the target's `remove` and `set` names. */
  readonly drop: ReadonlySet<string> | undefined;
  /** The target's `set` headers, flat. */
  readonly set: readonly string[];
  /** False when the target sets its own `authorization`. */
  readonly sendsToken: boolean;
  /**
   * The configuration's request timeout, when it can fire before the upstream's own bounds do
   * (attempts × attempt timeout + backoffs); `undefined` when it cannot, sparing every request
   * an execution.
   */
  readonly requestTimeout: TimeoutPolicy | undefined;
  readonly stats: RouteStats;
}

/**
 * The name of a client span to `target`: `"<service> <METHOD> <template>"`, where the template is
 * the target's rewrite or else `routePath`, the route's pattern. A name per pattern, not per
 * concrete path, keeps span names few, as OpenTelemetry asks of them.
 */
export function clientSpanName(target: CompiledTarget, method: string, routePath: string): string {
  return `${target.service} ${method} ${target.config.rewrite ?? routePath}`;
}

/** A traffic split, compiled. */
export interface CompiledSplit {
  readonly controller: SplitController;
  readonly legacy: CompiledTarget;
  readonly candidate: CompiledTarget;
  /** The sticky cookie's name, when stickiness falls back on a cookie. */
  readonly cookie: string | undefined;
  readonly ignore: readonly string[];
}

/** One route, compiled (internal). */
export interface CompiledRoute {
  readonly id: string;
  readonly config: RouteConfig;
  /** `'public'`, or the scopes a token must carry (possibly none). */
  readonly auth: 'public' | readonly string[];
  readonly limiter: RouteLimiter | undefined;
  readonly target: CompiledTarget | undefined;
  readonly split: CompiledSplit | undefined;
  readonly aggregator: Aggregator | undefined;
  /** Requests the gateway answered itself on this route (401, 429, 413, aggregates, …). */
  readonly stats: RouteStats;
}

/**
 * A configuration in force: everything a request needs, compiled once. A request keeps the
 * snapshot it started with to its end, so a reload never changes a request half-way (internal).
 */
export interface Snapshot {
  readonly version: number;
  readonly config: GatewayConfig;
  readonly router: Router<CompiledRoute>;
  readonly routes: readonly CompiledRoute[];
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly splits: ReadonlyMap<string, { readonly controller: SplitController; readonly key: string }>;
  readonly auth: JwtVerifier | undefined;
  readonly authKey: string;
  readonly limits: RateLimitStore;
  readonly cors: CorsPolicy | undefined;
  readonly bodyBytes: number;
  /** How long a client may take to send its body, in ms. */
  readonly bodyTimeoutMs: number;
  readonly requestTimeout: TimeoutPolicy;
  readonly requestTimeoutMs: number;
  /** Headers added to every response. */
  readonly responseHeaders: readonly string[];
  /** Listeners this snapshot registered (breaker states to split guards, rollback logs); disposed when replaced. */
  readonly subscriptions: Disposable[];
  /** Requests (and shadow copies) still running on this snapshot. */
  inflight: number;
  /** True once another snapshot replaced this one. */
  retired: boolean;
}

/** What compiling needs from the gateway (internal). */
export interface CompileContext {
  readonly discovery: Discovery;
  readonly clock: Clock;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => number;
  readonly redisPrefix: string;
  /** Upstreams alive in any snapshot, by {@link upstreamKey}. */
  readonly upstreams: Map<string, Upstream>;
  /** Builds the part call of an aggregate route on a snapshot's upstreams. */
  readonly partCall: (snapshot: () => Snapshot) => PartCall;
  /** Reports a rate-limit decision Redis could not make. */
  readonly onRateLimitStoreError: (err: unknown) => void;
}

/** The settings of `service`: built-in defaults, then `upstreamDefaults`, then `upstreams.<service>`. */
export function settingsOf(config: GatewayConfig, service: string): UpstreamSettings {
  return {
    ...DEFAULT_UPSTREAM_SETTINGS,
    ...config.upstreamDefaults,
    ...config.upstreams[service],
  } as UpstreamSettings;
}

/** The longest a proxied request can take at an upstream: every attempt timing out, plus the backoffs between. */
function upstreamBoundMs(upstream: Upstream): number {
  const { timeoutMs, maxAttempts } = upstream.settings;
  return timeoutMs * maxAttempts + MAX_BACKOFF_MS * (maxAttempts - 1);
}

/** Every upstream service a configuration calls. */
export function servicesOf(config: GatewayConfig): Set<string> {
  const services = new Set<string>();
  for (const route of config.routes) {
    if (route.upstream !== undefined) services.add(route.upstream.service);
    if (route.split !== undefined) {
      services.add(route.split.legacy.service);
      services.add(route.split.candidate.service);
    }
    if (route.aggregate !== undefined)
      for (const part of Object.values(route.aggregate.parts)) services.add(part.service);
  }
  return services;
}

const rule = (r: { ratePerSecond: number; burst?: number | undefined }): BucketRule => ({
  capacity: r.burst ?? r.ratePerSecond,
  ratePerSecond: r.ratePerSecond,
});

/**
 * Compiles a validated configuration. State worth keeping is taken over from `previous`:
 * upstreams whose settings did not change (pools, breakers), split controllers whose split did
 * not change (weights, counters, rollbacks), rate-limit buckets, the JWT verifier and its cache.
 */
export function compileSnapshot(
  config: GatewayConfig,
  version: number,
  previous: Snapshot | undefined,
  ctx: CompileContext,
): Snapshot {
  // What a compilation that fails half-way must give back: it never becomes a snapshot to release.
  const undo: (() => void)[] = [];
  try {
    return buildSnapshot(config, version, previous, ctx, undo);
  } catch (err) {
    for (const step of undo.reverse()) step();
    throw err;
  }
}

function buildSnapshot(
  config: GatewayConfig,
  version: number,
  previous: Snapshot | undefined,
  ctx: CompileContext,
  undo: (() => void)[],
): Snapshot {
  const upstreams = new Map<string, Upstream>();
  for (const service of servicesOf(config)) {
    const settings = settingsOf(config, service);
    const key = upstreamKey(service, settings);
    let upstream = ctx.upstreams.get(key);
    if (upstream === undefined) {
      upstream = new Upstream(service, settings, ctx.discovery, ctx.clock);
      ctx.upstreams.set(key, upstream);
    }
    upstream.refs++;
    upstreams.set(service, upstream);
    const acquired = upstream;
    undo.push(() => {
      if (--acquired.refs > 0) return;
      acquired.close();
      ctx.upstreams.delete(acquired.key);
    });
  }

  const requestTimeoutMs = config.limits.requestTimeoutMs;
  const requestTimeout =
    previous !== undefined && previous.requestTimeoutMs === requestTimeoutMs
      ? previous.requestTimeout
      : timeout({
          name: 'request-timeout',
          timeoutMs: requestTimeoutMs,
          strategy: 'aggressive',
          clock: ctx.clock,
        });

  const authKey = JSON.stringify(config.auth ?? null);
  const auth =
    config.auth === undefined
      ? undefined
      : previous?.authKey === authKey && previous.auth !== undefined
        ? previous.auth
        : createJwtVerifier(config.auth.jwt, { env: ctx.env, now: ctx.now });

  const store = config.rateLimit?.store ?? 'memory';
  let limits: RateLimitStore;
  if (store === 'memory')
    limits = new MemoryRateLimitStore(
      ctx.clock,
      previous?.limits instanceof MemoryRateLimitStore ? previous.limits : undefined,
    );
  else if (previous?.limits instanceof RedisRateLimitStore && previous.limits.url === store.redis)
    limits = previous.limits;
  else {
    const redis = new RedisRateLimitStore({
      url: store.redis,
      prefix: ctx.redisPrefix,
      onFailOpen: ctx.onRateLimitStoreError,
    });
    undo.push(() => void redis.close());
    limits = redis;
  }

  const subscriptions: Disposable[] = [];
  undo.push(() => {
    for (const s of subscriptions) s.dispose();
  });
  const splits = new Map<string, { controller: SplitController; key: string }>();
  let snapshot: Snapshot | undefined;
  const self = (): Snapshot => snapshot as Snapshot;

  const target = (route: RouteConfig, t: TargetConfig): CompiledTarget => {
    const rewrite =
      t.rewrite === undefined ? undefined : compileRewrite(t.rewrite, parsePattern(route.match.path));
    if (typeof rewrite === 'string') throw new RangeError(`route "${route.id}" rewrite ${rewrite}`);
    const setEntries = Object.entries(t.headers?.set ?? {});
    const dropNames = [...(t.headers?.remove ?? []), ...setEntries.map(([name]) => name)];
    return {
      service: t.service,
      config: t,
      upstream: upstreams.get(t.service) as Upstream,
      rewrite,
      drop: dropNames.length === 0 ? undefined : new Set(dropNames),
      set: setEntries.flat(),
      sendsToken: !setEntries.some(([name]) => name === 'authorization'),
      requestTimeout:
        requestTimeoutMs < upstreamBoundMs(upstreams.get(t.service) as Upstream) ? requestTimeout : undefined,
      stats: ctx.metrics.statsFor(route.id, t.service),
    };
  };

  const routes = config.routes.map((route): CompiledRoute => {
    const consumerRule = route.rateLimit?.perConsumer ?? config.rateLimit?.perConsumer;
    const routeLimits: RouteLimits = {
      consumer:
        consumerRule === undefined
          ? undefined
          : {
              name: route.rateLimit?.perConsumer !== undefined ? `route:${route.id}` : 'global',
              rule: rule(consumerRule),
            },
      route:
        route.rateLimit?.perRoute === undefined
          ? undefined
          : { name: `route:${route.id}`, rule: rule(route.rateLimit.perRoute) },
    };
    let split: CompiledSplit | undefined;
    if (route.split !== undefined) {
      const key = JSON.stringify(route.split);
      const kept = previous?.splits.get(route.id);
      const controller =
        kept !== undefined && kept.key === key
          ? kept.controller
          : createSplitController(route.id, route.split, { clock: ctx.clock });
      splits.set(route.id, { controller, key });
      const candidate = upstreams.get(route.split.candidate.service) as Upstream;
      if (candidate.breaker.state !== 'closed') controller.candidateBreaker(candidate.breaker.state);
      subscriptions.push(candidate.breaker.onStateChange((e) => controller.candidateBreaker(e.to)));
      subscriptions.push(
        controller.onRollback((e) =>
          ctx.logger.warn(
            { route: e.routeId, guard: e.guard, detail: e.detail },
            'migration rolled back to legacy',
          ),
        ),
      );
      const sticky = route.split.sticky;
      if (sticky === 'user' && route.auth === 'public')
        ctx.logger.warn(
          { route: route.id },
          'split sticky by user on a public route: requests carry no verified user, so each one is drawn at random and a client may flip between legacy and candidate; stick by a cookie ({ sticky: { cookie } }) instead',
        );
      split = {
        controller,
        legacy: target(route, route.split.legacy),
        candidate: target(route, route.split.candidate),
        cookie: sticky === 'user' ? undefined : sticky.cookie,
        ignore: route.split.shadow?.ignore ?? [],
      };
    }
    return {
      id: route.id,
      config: route,
      auth: route.auth === 'public' ? 'public' : (route.auth?.scopes ?? []),
      limiter:
        routeLimits.consumer === undefined && routeLimits.route === undefined
          ? undefined
          : limits.limiter(routeLimits),
      target: route.upstream === undefined ? undefined : target(route, route.upstream),
      split,
      aggregator:
        route.aggregate === undefined
          ? undefined
          : createAggregator(route.id, route.aggregate, ctx.partCall(self), { clock: ctx.clock }),
      stats: ctx.metrics.statsFor(route.id, route.aggregate === undefined ? 'none' : 'aggregate'),
    };
  });

  if (limits instanceof MemoryRateLimitStore) limits.detach();
  const router = createRouter(
    routes.map((r) => ({
      pattern: r.config.match.path,
      methods: r.config.match.method === undefined ? undefined : [r.config.match.method].flat(),
      value: r,
    })),
  );

  snapshot = {
    version,
    config,
    router,
    routes,
    upstreams,
    splits,
    auth,
    authKey,
    limits,
    cors: createCorsPolicy(config.cors),
    bodyBytes: config.limits.bodyBytes,
    bodyTimeoutMs: config.limits.bodyTimeoutMs,
    requestTimeout,
    requestTimeoutMs,
    responseHeaders: SECURITY_HEADERS,
    subscriptions,
    inflight: 0,
    retired: false,
  };
  return snapshot;
}

/**
 * Releases what a retired snapshot alone held, once its last request finished: upstreams no
 * other snapshot uses (their pools close after their requests) and a rate-limit store the
 * current snapshot does not share.
 */
export function releaseSnapshot(
  snapshot: Snapshot,
  current: Snapshot | undefined,
  ctx: CompileContext,
): void {
  for (const upstream of snapshot.upstreams.values()) {
    if (--upstream.refs > 0) continue;
    upstream.close();
    ctx.upstreams.delete(upstream.key);
  }
  if (current === undefined || current.limits !== snapshot.limits) snapshot.limits.close().catch(() => {});
}
