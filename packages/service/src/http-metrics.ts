import type { PolicySnapshot } from '@flotilla/resilience';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { UpstreamSnapshot } from './client-types.js';
import { RouteMetrics, type RouteRecorder } from './route-metrics.js';

/** Prometheus metrics of one service. */
export interface ServiceMetrics {
  /** The registry served at `/metrics`; add your own metrics to it. */
  readonly registry: Registry;
  /** The request recorder of one route (resolve it once, use it per request). */
  route(method: string, route: string): RouteRecorder;
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

  const requests = new RouteMetrics(registry);

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

  return { registry, route: (method, route) => requests.route(method, route) };
}

function findPolicy(snapshot: PolicySnapshot, kind: string): PolicySnapshot | undefined {
  if (snapshot.kind === kind) return snapshot;
  return snapshot.policies?.find((p) => p.kind === kind);
}
