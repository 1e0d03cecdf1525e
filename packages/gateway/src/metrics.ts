import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The gateway's Prometheus metrics (internal). Per-request numbers are plain fields of a
 * {@link RouteStats} that the compiled route holds directly — prom-client's own `inc`/`observe`
 * hash the label set on every call, even through a cached child — and are read at scrape time.
 */

/** Upper bounds of the duration histogram, in seconds. */
const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Requests of one (route, upstream) pair: counts per status and a duration histogram. */
export class RouteStats {
  /** Requests per status code (100..999), indexed by the code. */
  readonly statuses = new Float64Array(1000);
  readonly buckets = new Float64Array(BOUNDS.length);
  sum = 0;
  count = 0;

  constructor(
    readonly route: string,
    readonly upstream: string,
  ) {}

  /** Records one finished request. */
  observe(status: number, seconds: number): void {
    this.statuses[status] = (this.statuses[status] as number) + 1;
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BOUNDS.length; i++)
      if (seconds <= (BOUNDS[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        return;
      }
  }
}

/** The state of one upstream's circuit breaker, for the gauge. */
export interface BreakerReading {
  readonly upstream: string;
  readonly state: string;
}

const BREAKER_STATE: Readonly<Record<string, number>> = { closed: 0, open: 1, 'half-open': 2, isolated: 3 };

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** The metrics of one gateway, served at `/metrics`. */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Upstream failures seen by the gateway, by upstream and error code. */
  readonly upstreamErrors: Counter<'upstream' | 'code'>;
  /** Requests refused by a rate limit, by route and bucket. */
  readonly rateLimited: Counter<'route' | 'scope'>;
  /** Configuration reloads, by result. */
  readonly reloads: Counter<'result'>;
  /** Rate-limit decisions made without the store (Redis down: the request passed). */
  readonly rateLimitStoreErrors: Counter;
  private readonly stats = new Map<string, RouteStats>();
  private breakers: () => readonly BreakerReading[] = () => [];

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.upstreamErrors = new Counter({
      name: 'flotilla_gateway_upstream_errors_total',
      help: 'Failed calls to upstreams (unreachable, timed out, open circuit, full bulkhead), by upstream and code.',
      labelNames: ['upstream', 'code'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'flotilla_gateway_rate_limited_total',
      help: 'Requests refused with 429, by route and bucket (consumer or route).',
      labelNames: ['route', 'scope'],
      registers,
    });
    this.reloads = new Counter({
      name: 'flotilla_gateway_config_reloads_total',
      help: 'Configuration reloads, by result (applied or rejected).',
      labelNames: ['result'],
      registers,
    });
    this.rateLimitStoreErrors = new Counter({
      name: 'flotilla_gateway_rate_limit_store_errors_total',
      help: 'Rate-limit decisions the store (Redis) could not make; those requests were allowed (fail open).',
      registers,
    });
    const metrics = this;
    new Gauge({
      name: 'flotilla_gateway_circuit_state',
      help: 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open, 3 isolated.',
      labelNames: ['upstream'],
      registers,
      collect() {
        this.reset();
        for (const b of metrics.breakers()) this.set({ upstream: b.upstream }, BREAKER_STATE[b.state] ?? -1);
      },
    });
    this.registry.registerMetric(
      this.customMetric(
        'flotilla_gateway_requests_total',
        'counter',
        'Requests answered, by route, upstream and status.',
        () => this.requestValues(),
      ) as never,
    );
    this.registry.registerMetric(
      this.customMetric(
        'flotilla_gateway_request_duration_seconds',
        'histogram',
        'Time from request to the end of the response, by route and upstream.',
        () => this.durationValues(),
      ) as never,
    );
  }

  /** The stats of a (route, upstream) pair, created once and kept across reloads. */
  statsFor(route: string, upstream: string): RouteStats {
    const key = `${route}\u0000${upstream}`;
    let stats = this.stats.get(key);
    if (stats === undefined) {
      stats = new RouteStats(route, upstream);
      this.stats.set(key, stats);
    }
    return stats;
  }

  /** Where the breaker gauge reads its states. */
  readBreakers(source: () => readonly BreakerReading[]): void {
    this.breakers = source;
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private customMetric(name: string, type: 'counter' | 'histogram', help: string, values: () => Value[]) {
    return {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, values: values(), aggregator: 'sum' }),
      reset: () => {},
    };
  }

  private requestValues(): Value[] {
    const out: Value[] = [];
    for (const s of this.stats.values())
      s.statuses.forEach((n, status) => {
        if (n > 0)
          out.push({ labels: { route: s.route, upstream: s.upstream, status: String(status) }, value: n });
      });
    return out;
  }

  private durationValues(): Value[] {
    const name = 'flotilla_gateway_request_duration_seconds';
    const out: Value[] = [];
    for (const s of this.stats.values()) {
      if (s.count === 0) continue;
      let acc = 0;
      BOUNDS.forEach((le, i) => {
        acc += s.buckets[i] as number;
        out.push({
          metricName: `${name}_bucket`,
          labels: { route: s.route, upstream: s.upstream, le },
          value: acc,
        });
      });
      out.push({
        metricName: `${name}_bucket`,
        labels: { route: s.route, upstream: s.upstream, le: '+Inf' },
        value: s.count,
      });
      out.push({ metricName: `${name}_sum`, labels: { route: s.route, upstream: s.upstream }, value: s.sum });
      out.push({
        metricName: `${name}_count`,
        labels: { route: s.route, upstream: s.upstream },
        value: s.count,
      });
    }
    return out;
  }
}
