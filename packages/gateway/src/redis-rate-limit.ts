import { Redis } from 'ioredis';
import type { BucketRule, LimitVerdict, RateLimitStore, RouteLimiter, RouteLimits } from './rate-limit.js';
import { UNKNOWN_VERDICT } from './rate-limit.js';

/**
 * Token buckets in Redis, shared by every gateway instance. One Lua script takes a token from
 * all the buckets of a request atomically (or from none when one is empty), on Redis's own
 * clock (`TIME`), so gateways whose clocks disagree still share one refill. ioredis sends it with
 * EVALSHA and falls back to EVAL once when the server does not have it yet.
 *
 * When Redis cannot answer (down, unreachable, slower than `commandTimeoutMs`) the request is
 * allowed — the store fails open — with a warning (at most one per `warnEveryMs`) and a count
 * for the `flotilla_gateway_rate_limit_store_errors_total` metric: a rate limiter protects the
 * upstreams from abuse, and refusing every request while Redis is away would turn a Redis outage
 * into a total outage. (internal)
 */

// KEYS: the buckets. ARGV: capacity and rate of each bucket, in KEYS order.
// Returns { allowed, limit, remaining, resetMs, waitMs, index } of the most restrictive bucket.
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local tokens = {}
local allowed = 1
local wait = 0
local worst = 1
for i = 1, n do
  local cap = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local v = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tk = tonumber(v[1])
  local ts = tonumber(v[2])
  if tk == nil or ts == nil then tk = cap ts = now end
  if now > ts then tk = math.min(cap, tk + (now - ts) * rate / 1000) end
  tokens[i] = tk
  if tk < 1 then
    allowed = 0
    local w = math.ceil((1 - tk) * 1000 / rate)
    if w > wait then wait = w worst = i end
  end
end
if allowed == 1 then
  local least = nil
  for i = 1, n do
    local cap = tonumber(ARGV[2 * i - 1])
    local rate = tonumber(ARGV[2 * i])
    local tk = tokens[i] - 1
    tokens[i] = tk
    redis.call('HSET', KEYS[i], 't', tostring(tk), 'ts', tostring(now))
    redis.call('PEXPIRE', KEYS[i], math.ceil(cap * 1000 / rate) + 1000)
    if least == nil or tk < least then least = tk worst = i end
  end
end
local cap = tonumber(ARGV[2 * worst - 1])
local rate = tonumber(ARGV[2 * worst])
local tk = tokens[worst]
return { allowed, cap, math.floor(tk), math.ceil((cap - tk) * 1000 / rate), wait, worst }
`;

interface TakeCommand {
  flotillaTakeTokens(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number[]>;
}

/** Options of {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Prefix of every key, so gateways of one deployment share buckets and tests do not collide. */
  prefix: string;
  /** Longest wait for Redis before failing open, in ms. @default 250 */
  commandTimeoutMs?: number;
  /** Called when Redis could not answer and a request was let through. */
  onFailOpen: (err: unknown) => void;
}

/** Buckets in Redis (see the module comment). */
export class RedisRateLimitStore implements RateLimitStore {
  readonly url: string;
  private readonly redis: Redis & TakeCommand;
  private readonly prefix: string;
  private readonly onFailOpen: (err: unknown) => void;

  constructor(options: RedisRateLimitStoreOptions) {
    this.url = options.url;
    this.prefix = options.prefix;
    this.onFailOpen = options.onFailOpen;
    this.redis = new Redis(options.url, {
      // A command while disconnected fails at once instead of queueing behind the reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: 2_000,
      lazyConnect: false,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    }) as Redis & TakeCommand;
    // Connection errors are reported through failed commands; without a listener ioredis would print them.
    this.redis.on('error', () => {});
    this.redis.defineCommand('flotillaTakeTokens', { lua: TAKE_SCRIPT });
  }

  limiter(limits: RouteLimits): RouteLimiter {
    const names: string[] = [];
    const rules: BucketRule[] = [];
    if (limits.consumer !== undefined) {
      names.push(`${this.prefix}${limits.consumer.name}:c:`);
      rules.push(limits.consumer.rule);
    }
    if (limits.route !== undefined) {
      names.push(`${this.prefix}${limits.route.name}:r`);
      rules.push(limits.route.rule);
    }
    const consumerFirst = limits.consumer !== undefined;
    const args = rules.flatMap((r) => [r.capacity, r.ratePerSecond]);
    const scopes: ('consumer' | 'route')[] = consumerFirst
      ? ['consumer', ...(limits.route === undefined ? [] : ['route' as const])]
      : ['route'];
    return {
      take: (consumer) => {
        const keys = consumerFirst ? [names[0] + consumer, ...names.slice(1)] : names;
        return this.redis.flotillaTakeTokens(keys.length, ...keys, ...args).then(
          (reply) => toVerdict(reply, scopes),
          (err: unknown) => {
            this.onFailOpen(err);
            return UNKNOWN_VERDICT;
          },
        );
      },
    };
  }

  /**
   * Resolves once connected, or after `timeoutMs` (the store then fails open until Redis is
   * there): a gateway starting next to Redis should not let its first requests through unlimited.
   */
  ready(timeoutMs: number): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.redis.once('ready', done);
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function toVerdict(reply: number[], scopes: readonly ('consumer' | 'route')[]): LimitVerdict {
  const [allowed, limit, remaining, resetMs, waitMs, index] = reply as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    allowed: allowed === 1,
    limit,
    remaining: Math.max(0, remaining),
    resetSec: Math.ceil(resetMs / 1000),
    retryAfterSec: allowed === 1 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)),
    scope: allowed === 1 ? undefined : scopes[index - 1],
  };
}
