import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The runner's Prometheus metrics (internal). */
export interface SagaMetrics {
  readonly started: Counter<'saga'>;
  readonly completed: Counter<'saga'>;
  readonly compensated: Counter<'saga'>;
  readonly stuck: Counter<'saga'>;
  readonly stepSeconds: Histogram<'saga' | 'step' | 'phase' | 'outcome'>;
}

/**
 * Creates (or, when another runner of the process registered them on the same registry, reuses)
 * the saga metrics. `lag` and `unmatched` are read at scrape time.
 */
export function createSagaMetrics(
  registry: Registry,
  read: { lagSeconds: () => Promise<number>; unmatched: () => Promise<number> },
): SagaMetrics {
  const counter = (name: string, help: string): Counter<'saga'> =>
    (registry.getSingleMetric(name) as Counter<'saga'> | undefined) ??
    new Counter({ name, help, labelNames: ['saga'], registers: [registry] });
  const metrics: SagaMetrics = {
    started: counter('flotilla_saga_started_total', 'Saga instances started, by saga.'),
    completed: counter('flotilla_saga_completed_total', 'Saga instances completed, by saga.'),
    compensated: counter('flotilla_saga_compensated_total', 'Saga instances fully compensated, by saga.'),
    stuck: counter(
      'flotilla_saga_stuck_total',
      'Saga instances that got stuck (a compensation kept failing): an operator must act. Alert on any increase.',
    ),
    stepSeconds:
      (registry.getSingleMetric('flotilla_saga_step_duration_seconds') as
        | Histogram<'saga' | 'step' | 'phase' | 'outcome'>
        | undefined) ??
      new Histogram({
        name: 'flotilla_saga_step_duration_seconds',
        help: 'Duration of step attempts (actions and compensations), by outcome.',
        labelNames: ['saga', 'step', 'phase', 'outcome'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
  };
  if (registry.getSingleMetric('flotilla_saga_runner_lag_seconds') === undefined)
    new Gauge({
      name: 'flotilla_saga_runner_lag_seconds',
      help: 'How long the oldest due saga has waited for a runner.',
      registers: [registry],
      async collect() {
        this.set(await read.lagSeconds());
      },
    });
  if (registry.getSingleMetric('flotilla_saga_unmatched_instances') === undefined)
    new Gauge({
      name: 'flotilla_saga_unmatched_instances',
      help: 'Unfinished saga instances no registered definition (name, version, steps) matches; left untouched.',
      registers: [registry],
      async collect() {
        this.set(await read.unmatched());
      },
    });
  return metrics;
}
