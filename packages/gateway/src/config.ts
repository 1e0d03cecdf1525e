import { z } from 'zod';

/**
 * The gateway's declarative configuration. A config is a JSON file or a TypeScript module
 * exporting one; it is validated with these schemas, and an invalid config is rejected with
 * the path of every bad key (`routes[2].split.weight: must be <= 100`).
 */

const name = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a lowercase service name');
const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** A path pattern: `/api/v2/orders/:id`, or a prefix ending in `/*` (the rest is the `*` param). */
const pathPattern = z
  .string()
  .regex(/^\/[A-Za-z0-9\-._~:@/]*(\/\*)?$/, 'must start with "/" and may end with "/*"')
  .refine((p) => !p.includes('//'), 'must not contain "//"');

/** Header rules applied to the upstream request. */
export const HeaderRules = z
  .object({
    /** Headers to set (overwrite) on the upstream request. */
    set: z.record(z.string().regex(/^[a-z0-9-]+$/, 'header names are lowercase'), z.string()).optional(),
    /** Headers to remove from the upstream request. */
    remove: z.array(z.string().regex(/^[a-z0-9-]+$/)).optional(),
  })
  .strict();

/** Where a route sends requests: a service found by discovery, with an optional path rewrite. */
export const Target = z
  .object({
    /** Upstream service name (resolved by @flotilla/service discovery). */
    service: name,
    /**
     * Upstream path template, e.g. `/orders/:id` or `/legacy/*`; params come from the route's
     * match. @default the request path unchanged
     */
    rewrite: z.string().startsWith('/').optional(),
    headers: HeaderRules.optional(),
  })
  .strict();

/** Resilience settings for calls to one upstream service. */
export const UpstreamPolicy = z
  .object({
    /** Per-attempt timeout in ms. @default 5000 */
    timeoutMs: z.number().int().positive().max(600_000).default(5_000),
    /** Attempts for idempotent requests (GET/HEAD/PUT/DELETE/OPTIONS or with Idempotency-Key). @default 2 */
    maxAttempts: z.number().int().min(1).max(10).default(2),
    /** Consecutive failures that open the breaker. @default 5 */
    breakerThreshold: z.number().int().min(1).default(5),
    /** Open duration before a half-open probe, in ms. @default 10000 */
    halfOpenAfterMs: z.number().int().positive().default(10_000),
    /** Max concurrent requests to the upstream. @default 256 */
    maxConcurrent: z.number().int().positive().default(256),
    /** Keep-alive connections per upstream instance. @default 64 */
    connections: z.number().int().positive().default(64),
  })
  .strict();

/** A token bucket: `ratePerSecond` sustained, `burst` at once. */
export const RateLimit = z
  .object({
    ratePerSecond: z.number().positive(),
    /** @default ratePerSecond */
    burst: z.number().positive().optional(),
  })
  .strict();

/** Automatic rollback conditions of a migrating route: when one trips, the weight drops to 0. */
export const Guards = z
  .object({
    /** Roll back when the candidate's circuit breaker opens. @default true */
    breakerOpen: z.boolean().default(true),
    /** Roll back when the candidate's 5xx rate over the window exceeds `max` (0..1). */
    errorRate: z
      .object({
        max: z.number().min(0).max(1),
        windowMs: z.number().int().positive().default(60_000),
        minRequests: z.number().int().min(1).default(20),
      })
      .strict()
      .optional(),
    /** Roll back when the candidate's p99 latency over the window exceeds `maxMs`. */
    p99: z
      .object({
        maxMs: z.number().positive(),
        windowMs: z.number().int().positive().default(60_000),
        minRequests: z.number().int().min(1).default(50),
      })
      .strict()
      .optional(),
    /** Roll back when the shadow mismatch rate exceeds `max` (0..1). */
    mismatchRate: z
      .object({
        max: z.number().min(0).max(1),
        minComparisons: z.number().int().min(1).default(20),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Shadow traffic: the primary serves, the candidate gets a mirrored copy whose response is compared. */
export const Shadow = z
  .object({
    /** Fraction of eligible requests mirrored (0..1). @default 1 */
    sampleRate: z.number().min(0).max(1).default(1),
    /** JSON paths ignored when comparing bodies, e.g. `$.createdAt`, `$.items[*].id`. */
    ignore: z.array(z.string().startsWith('$')).default([]),
    /** Mirror unsafe methods too (POST/PUT/PATCH/DELETE): only for idempotent candidates. @default false */
    allowUnsafeMethods: z.boolean().default(false),
    /** Mismatch samples kept (both bodies) for inspection. @default 50 */
    keepSamples: z.number().int().min(0).max(10_000).default(50),
  })
  .strict();

/** Strangler-fig traffic split between the legacy system and a new service. */
export const Split = z
  .object({
    legacy: Target,
    candidate: Target,
    /** Percent of traffic (0..100) served by the candidate. */
    weight: z.number().min(0).max(100),
    /** What keeps one user on one side: the authenticated user id, or a cookie. @default 'user' */
    sticky: z.union([z.literal('user'), z.object({ cookie: z.string().min(1) }).strict()]).default('user'),
    /** Mirror requests served by legacy to the candidate and compare the responses. */
    shadow: Shadow.optional(),
    guards: Guards.optional(),
  })
  .strict();

/** One part of an aggregated response. */
export const AggregatePart = z
  .object({
    service: name,
    method: z.enum(['GET', 'POST']).default('GET'),
    /**
     * Upstream path with placeholders: `:id` from the route's params, or `{{order.customerId}}`
     * from the JSON body of an earlier part (which then runs first).
     */
    path: z.string().startsWith('/'),
    /** A failed required part fails the request (502/503/504); an optional one yields its fallback. @default false */
    required: z.boolean().default(false),
    /** Per-part timeout in ms. @default the upstream's timeoutMs */
    timeoutMs: z.number().int().positive().optional(),
    /** Value used when an optional part fails. @default null */
    fallback: z.unknown().optional(),
    /** Response headers of this part copied to the aggregated response (e.g. `cache-control`). */
    passHeaders: z.array(z.string().regex(/^[a-z0-9-]+$/)).default([]),
  })
  .strict();

/** Fan out to several upstream calls and merge them into one response. */
export const Aggregate = z
  .object({
    parts: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/), AggregatePart),
  })
  .strict();

/** One route. Exactly one of `upstream`, `split` or `aggregate`. */
export const Route = z
  .object({
    /** Stable id used in metrics, logs and the admin API. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-_.]{0,62}$/),
    match: z
      .object({
        method: z.union([method, z.array(method).min(1)]).optional(),
        path: pathPattern,
      })
      .strict(),
    /** `'public'`, or the JWT scopes required. @default authenticated, no particular scope */
    auth: z
      .union([z.literal('public'), z.object({ scopes: z.array(z.string()).default([]) }).strict()])
      .optional(),
    rateLimit: z
      .object({ perConsumer: RateLimit.optional(), perRoute: RateLimit.optional() })
      .strict()
      .optional(),
    upstream: Target.optional(),
    split: Split.optional(),
    aggregate: Aggregate.optional(),
  })
  .strict()
  .refine((r) => [r.upstream, r.split, r.aggregate].filter((x) => x !== undefined).length === 1, {
    message: 'a route needs exactly one of upstream, split or aggregate',
  });

/** JWT verification of end-user tokens. */
export const JwtAuth = z
  .object({
    /** Shared secret for HS256 tokens (at least 32 characters), or `env:NAME` to read it from the environment. */
    secret: z.string().optional(),
    /** JWKS URL for RS256/ES256 tokens (keys cached and refreshed by `jose`). */
    jwksUrl: z.url().optional(),
    issuer: z.string().optional(),
    audience: z.string().optional(),
    /** Allowed clock skew in seconds. @default 30 */
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .refine((a) => (a.secret === undefined) !== (a.jwksUrl === undefined), {
    message: 'set exactly one of secret or jwksUrl',
  });

/** The whole gateway configuration. */
export const GatewayConfig = z
  .object({
    auth: z.object({ jwt: JwtAuth }).strict().optional(),
    rateLimit: z
      .object({
        /** Where buckets live: this process, or Redis shared by every gateway instance. @default 'memory' */
        store: z
          .union([z.literal('memory'), z.object({ redis: z.string().startsWith('redis://') }).strict()])
          .default('memory'),
        /** Applied to routes without their own `rateLimit.perConsumer`. */
        perConsumer: RateLimit.optional(),
      })
      .strict()
      .optional(),
    cors: z
      .object({
        origins: z.union([z.literal('*'), z.array(z.url())]),
        methods: z.array(method).default(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
        headers: z.array(z.string()).default(['authorization', 'content-type', 'idempotency-key']),
        credentials: z.boolean().default(false),
        maxAgeSec: z.number().int().min(0).default(600),
      })
      .strict()
      .optional(),
    limits: z
      .object({
        /** Largest request body in bytes. @default 1048576 */
        bodyBytes: z.number().int().positive().default(1_048_576),
        /** Whole-request timeout in ms. @default 30000 */
        requestTimeoutMs: z.number().int().positive().default(30_000),
        /**
         * How long a client may take to send the body it declared, in ms; a slower or stalled one
         * gets a 408 `REQUEST_TIMEOUT` (its fault, not an upstream's). @default 10000
         */
        bodyTimeoutMs: z.number().int().positive().default(10_000),
      })
      .strict()
      .default({ bodyBytes: 1_048_576, requestTimeoutMs: 30_000, bodyTimeoutMs: 10_000 }),
    /** Defaults for every upstream, overridden per service in `upstreams`. */
    upstreamDefaults: UpstreamPolicy.partial().optional(),
    upstreams: z.record(name, UpstreamPolicy.partial()).default({}),
    routes: z.array(Route).min(1),
  })
  .strict();

/** A validated gateway configuration. */
export type GatewayConfig = z.output<typeof GatewayConfig>;
/** A configuration as written (defaults not yet applied). */
export type GatewayConfigInput = z.input<typeof GatewayConfig>;
/** A validated route. */
export type RouteConfig = z.output<typeof Route>;
/** A traffic split. */
export type SplitConfig = z.output<typeof Split>;
/** An aggregate. */
export type AggregateConfig = z.output<typeof Aggregate>;
/** A proxy target. */
export type TargetConfig = z.output<typeof Target>;
