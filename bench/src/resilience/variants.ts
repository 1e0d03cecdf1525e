import { bulkhead, circuitBreaker, consecutiveBreaker, pipeline, retry, timeout } from '@flotilla/resilience';
import * as cockatiel from 'cockatiel';
import CircuitBreaker from 'opossum';

/** A way of calling `fn` under test: returns a function that performs one protected call. */
export type Variant = (fn: () => Promise<number>) => () => Promise<unknown>;

/** Every variant measured, in table order. Each builds its policies once, outside the timed loop. */
export const variants: Record<string, { label: string; make: Variant }> = {
  bare: { label: 'bare `await fn()`', make: (fn) => fn },
  'flotilla-breaker': {
    label: 'flotilla `circuitBreaker(consecutiveBreaker(5))`',
    make: (fn) => {
      const breaker = circuitBreaker({ breaker: consecutiveBreaker(5), halfOpenAfterMs: 10_000 });
      return () => breaker.execute(fn);
    },
  },
  'flotilla-pipeline': {
    label: 'flotilla `pipeline(timeout, retry, circuitBreaker, bulkhead(100))`',
    make: (fn) => {
      const policy = pipeline(
        timeout({ timeoutMs: 1_000 }),
        retry({ maxAttempts: 3 }),
        circuitBreaker({ breaker: consecutiveBreaker(5), halfOpenAfterMs: 10_000 }),
        bulkhead({ limit: 100 }),
      );
      return () => policy.execute(fn);
    },
  },
  'cockatiel-breaker': {
    label: 'cockatiel `circuitBreaker(handleAll, ConsecutiveBreaker(5))`',
    make: (fn) => {
      const breaker = cockatiel.circuitBreaker(cockatiel.handleAll, {
        halfOpenAfter: 10_000,
        breaker: new cockatiel.ConsecutiveBreaker(5),
      });
      return () => breaker.execute(fn);
    },
  },
  'cockatiel-wrap': {
    label: 'cockatiel `wrap(retry, circuitBreaker, timeout(cooperative), bulkhead(100))`',
    make: (fn) => {
      const policy = cockatiel.wrap(
        cockatiel.retry(cockatiel.handleAll, { maxAttempts: 3 }),
        cockatiel.circuitBreaker(cockatiel.handleAll, {
          halfOpenAfter: 10_000,
          breaker: new cockatiel.ConsecutiveBreaker(5),
        }),
        cockatiel.timeout(1_000, cockatiel.TimeoutStrategy.Cooperative),
        cockatiel.bulkhead(100),
      );
      return () => policy.execute(fn);
    },
  },
  'opossum-defaults': {
    label: 'opossum defaults (10 s timeout)',
    make: (fn) => {
      const breaker = new CircuitBreaker(fn);
      return () => breaker.fire();
    },
  },
  'opossum-no-timeout': {
    label: 'opossum `{ timeout: false }`',
    make: (fn) => {
      const breaker = new CircuitBreaker(fn, { timeout: false });
      return () => breaker.fire();
    },
  },
};
