import {
  type Clock,
  type KeyedTokenBuckets,
  keyedTokenBuckets,
  type TokenBucket,
  tokenBucket,
} from '@flotilla/resilience';

/**
 * Rate limits of routes: a token bucket per consumer (the user id, else the client address) and
 * one per route, kept in this process (`keyedTokenBuckets`) or in Redis (redis-rate-limit.ts)
 * for gateways that share their quotas (internal).
 */

/** A token bucket's settings: `burst` tokens at most, `ratePerSecond` added per second. */
export interface BucketRule {
  readonly capacity: number;
  readonly ratePerSecond: number;
}

/** The verdict on one request, with what the `RateLimit-*` headers report. */
export interface LimitVerdict {
  readonly allowed: boolean;
  /** The capacity of the bucket that decided (the most restrictive one); -1 when unknown (store down). */
  readonly limit: number;
  /** Whole tokens left in that bucket. */
  readonly remaining: number;
  /** Seconds until that bucket is full again. */
  readonly resetSec: number;
  /** Seconds until a request would be allowed (0 when allowed). */
  readonly retryAfterSec: number;
  /** Which bucket refused the request. */
  readonly scope: 'consumer' | 'route' | undefined;
}

/** The limits of one route. */
export interface RouteLimiter {
  /** Takes a token from every bucket of the route for `consumer`, or none when one is empty. */
  take(consumer: string): LimitVerdict | Promise<LimitVerdict>;
}

/** The verdict when a store cannot answer: the request passes and no header is sent. */
export const UNKNOWN_VERDICT: LimitVerdict = Object.freeze({
  allowed: true,
  limit: -1,
  remaining: 0,
  resetSec: 0,
  retryAfterSec: 0,
  scope: undefined,
});

/** Which buckets a route uses: a name shared by the routes that share the bucket, and its rule. */
export interface RouteLimits {
  /** Per-consumer bucket: `route:<id>` for a route's own, `global` for the gateway-wide default. */
  readonly consumer: { readonly name: string; readonly rule: BucketRule } | undefined;
  /** The route's own bucket, shared by all consumers. */
  readonly route: { readonly name: string; readonly rule: BucketRule } | undefined;
}

/** Where buckets live. */
export interface RateLimitStore {
  /** The limiter of a route. */
  limiter(limits: RouteLimits): RouteLimiter;
  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * Buckets in this process. `previous` hands over the buckets of the store it replaces, so a
 * configuration reload keeps the state of every bucket whose name and rule did not change.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly consumers = new Map<string, KeyedTokenBuckets>();
  private readonly routes = new Map<string, TokenBucket>();

  constructor(
    private readonly clock: Clock,
    private previous?: MemoryRateLimitStore,
  ) {}

  /** Forgets the replaced store once every limiter took what it needed from it. */
  detach(): void {
    this.previous = undefined;
  }

  limiter(limits: RouteLimits): RouteLimiter {
    let consumer: { buckets: KeyedTokenBuckets; rule: BucketRule } | undefined;
    let route: { bucket: TokenBucket; rule: BucketRule } | undefined;
    if (limits.consumer !== undefined) {
      const { name, rule } = limits.consumer;
      const key = `${name}|${rule.capacity}|${rule.ratePerSecond}`;
      let buckets = this.consumers.get(key) ?? this.previous?.consumers.get(key);
      buckets ??= keyedTokenBuckets({
        capacity: rule.capacity,
        refillPerSecond: rule.ratePerSecond,
        clock: this.clock,
      });
      this.consumers.set(key, buckets);
      consumer = { buckets, rule };
    }
    if (limits.route !== undefined) {
      const { name, rule } = limits.route;
      const key = `${name}|${rule.capacity}|${rule.ratePerSecond}`;
      let bucket = this.routes.get(key) ?? this.previous?.routes.get(key);
      bucket ??= tokenBucket({
        capacity: rule.capacity,
        refillPerSecond: rule.ratePerSecond,
        clock: this.clock,
      });
      this.routes.set(key, bucket);
      route = { bucket, rule };
    }
    return new MemoryLimiter(consumer, route);
  }

  async close(): Promise<void> {}
}

class MemoryLimiter implements RouteLimiter {
  constructor(
    private readonly consumer: { buckets: KeyedTokenBuckets; rule: BucketRule } | undefined,
    private readonly route: { bucket: TokenBucket; rule: BucketRule } | undefined,
  ) {}

  take(key: string): LimitVerdict {
    const { consumer, route } = this;
    // The route's bucket first: it can give its token back when the consumer's refuses.
    if (route !== undefined) {
      const waitMs = route.bucket.tryTake();
      if (waitMs > 0) return refused('route', route.rule, route.bucket.available(), waitMs);
    }
    let tokens = Number.POSITIVE_INFINITY;
    let rule: BucketRule | undefined;
    if (consumer !== undefined) {
      const waitMs = consumer.buckets.tryTake(key);
      if (waitMs > 0) {
        route?.bucket.refund();
        return refused('consumer', consumer.rule, consumer.buckets.available(key), waitMs);
      }
      tokens = consumer.buckets.available(key);
      rule = consumer.rule;
    }
    if (route !== undefined) {
      const left = route.bucket.available();
      if (left < tokens) {
        tokens = left;
        rule = route.rule;
      }
    }
    if (rule === undefined) return UNKNOWN_VERDICT;
    return {
      allowed: true,
      limit: rule.capacity,
      remaining: Math.floor(tokens),
      resetSec: Math.ceil((rule.capacity - tokens) / rule.ratePerSecond),
      retryAfterSec: 0,
      scope: undefined,
    };
  }
}

function refused(
  scope: 'consumer' | 'route',
  rule: BucketRule,
  tokens: number,
  waitMs: number,
): LimitVerdict {
  return {
    allowed: false,
    limit: rule.capacity,
    remaining: Math.floor(tokens),
    resetSec: Math.ceil((rule.capacity - tokens) / rule.ratePerSecond),
    retryAfterSec: Math.max(1, Math.ceil(waitMs / 1000)),
    scope,
  };
}

/** The `RateLimit-*` response headers of a verdict (flat name/value list); empty when unknown. */
export function rateLimitHeaders(verdict: LimitVerdict): string[] {
  if (verdict.limit < 0) return [];
  return [
    'ratelimit-limit',
    String(verdict.limit),
    'ratelimit-remaining',
    String(verdict.remaining),
    'ratelimit-reset',
    String(verdict.resetSec),
  ];
}
