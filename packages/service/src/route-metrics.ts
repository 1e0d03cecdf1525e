import type { Registry } from 'prom-client';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

interface Series {
  readonly status: number;
  /** Cumulative counts per bucket bound, then +Inf. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** The request metrics of one route: a histogram per status code, recorded without label lookups. */
export interface RouteRecorder {
  /** Records one finished request. */
  observe(status: number, seconds: number): void;
}

interface RouteSeries {
  readonly method: string;
  readonly route: string;
  readonly byStatus: (Series | undefined)[];
}

/**
 * HTTP request metrics kept per route in plain arrays and exported through prom-client at
 * scrape time. prom-client's own labelled `observe` hashes the label set on every call (about
 * a microsecond, twice with the counter); a route's recorder is resolved once, when the route
 * is registered, so a request costs a bucket search and three additions.
 * Exposes `http_server_request_duration_seconds` (histogram) and `http_server_requests_total`.
 */
export class RouteMetrics {
  private readonly routes: RouteSeries[] = [];

  constructor(registry: Registry) {
    registry.registerMetric(this.histogramMetric() as never);
    registry.registerMetric(this.counterMetric() as never);
  }

  /** The recorder of one route. */
  route(method: string, route: string): RouteRecorder {
    const series: RouteSeries = { method, route, byStatus: [] };
    this.routes.push(series);
    return {
      observe(status, seconds) {
        let s = series.byStatus[status];
        if (s === undefined) {
          s = { status, buckets: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 };
          series.byStatus[status] = s;
        }
        let i = 0;
        while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
        (s.buckets as Float64Array)[i] = ((s.buckets as Float64Array)[i] ?? 0) + 1;
        s.sum += seconds;
        s.count++;
      },
    };
  }

  private *series(): Generator<[RouteSeries, Series]> {
    for (const r of this.routes) for (const s of r.byStatus) if (s !== undefined) yield [r, s];
  }

  private histogramMetric() {
    const name = 'http_server_request_duration_seconds';
    return {
      name,
      help: 'Duration of HTTP requests served, by route and status.',
      type: 'histogram',
      aggregator: 'sum',
      reset: () => {},
      get: async () => {
        const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
        for (const [r, s] of this.series()) {
          const labels = { method: r.method, route: r.route, status_code: String(s.status) };
          let cumulative = 0;
          BUCKETS.forEach((le, i) => {
            cumulative += s.buckets[i] ?? 0;
            values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
          });
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
          values.push({ metricName: `${name}_sum`, labels, value: s.sum });
          values.push({ metricName: `${name}_count`, labels, value: s.count });
        }
        return {
          name,
          help: 'Duration of HTTP requests served, by route and status.',
          type: 'histogram',
          values,
          aggregator: 'sum',
        };
      },
    };
  }

  private counterMetric() {
    const name = 'http_server_requests_total';
    const help = 'HTTP requests served, by route and status.';
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      reset: () => {},
      get: async () => ({
        name,
        help,
        type: 'counter',
        aggregator: 'sum',
        values: [...this.series()].map(([r, s]) => ({
          labels: { method: r.method, route: r.route, status_code: String(s.status) },
          value: s.count,
        })),
      }),
    };
  }
}
