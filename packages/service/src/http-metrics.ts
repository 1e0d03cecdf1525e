import type { PolicySnapshot } from '@flotilla/resilience';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { UpstreamSnapshot } from './client-types.js';

/** Prometheus metrics of one service. */
export interface ServiceMetrics {
  /** The registry served at `/metrics`; add your own metrics to it. */
  readonly registry: Registry;
  /** Records one finished request. */
  observe(method: string, route: string, status: number, seconds: number): void;
}

const BREAKER_STATE: Record<string, number> = { closed: 0, open: 1, 'half-open': 2, isolated: 3 };

/**
 * Creates the registry of a service: request rate, errors and duration per route; process
 * metrics; and, read at scrape time, the state and counters of every resilience policy the
 * service's clients use.
 */
export function createServiceMetrics(
  service: string,
  upstreams: () => readonly UpstreamSnapshot[],
): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });

  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests served, by route and status.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'http_server_requests_total',
    help: 'HTTP requests served, by route and status.',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });

  new Gauge({
    name: 'flotilla_circuit_state',
    help: 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open, 3 isolated.',
    labelNames: ['upstream'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of upstreams()) {
        const breaker = findPolicy(u.policy, 'circuit-breaker');
        if (breaker?.state !== undefined)
          this.set({ upstream: u.service }, BREAKER_STATE[breaker.state] ?? -1);
      }
    },
  });
  new Counter({
    name: 'flotilla_policy_executions_total',
    help: 'Executions seen by each resilience policy of each upstream, by outcome.',
    labelNames: ['upstream', 'policy', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of upstreams()) {
        for (const p of u.policy.policies ?? [u.policy]) {
          const labels = { upstream: u.service, policy: p.kind };
          this.inc({ ...labels, outcome: 'success' }, p.totals.successes);
          this.inc({ ...labels, outcome: 'failure' }, p.totals.failures);
          this.inc({ ...labels, outcome: 'rejection' }, p.totals.rejections);
        }
      }
    },
  });
  new Gauge({
    name: 'flotilla_upstream_instances',
    help: 'Known instances per upstream, by whether outlier detection ejected them.',
    labelNames: ['upstream', 'ejected'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of upstreams()) {
        const ejected = u.instances.filter((i) => i.ejected).length;
        this.set({ upstream: u.service, ejected: 'true' }, ejected);
        this.set({ upstream: u.service, ejected: 'false' }, u.instances.length - ejected);
      }
    },
  });

  return {
    registry,
    observe(method, route, status, seconds) {
      const labels = { method, route, status_code: String(status) };
      duration.observe(labels, seconds);
      requests.inc(labels);
    },
  };
}

function findPolicy(snapshot: PolicySnapshot, kind: string): PolicySnapshot | undefined {
  if (snapshot.kind === kind) return snapshot;
  return snapshot.policies?.find((p) => p.kind === kind);
}
