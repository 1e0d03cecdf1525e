// The saga operator API (@flotilla/saga's sagaRoutes) mounted on the order service. sagaRoutes
// closes over one runner, but the runner exists only once setup has opened the database, after
// the routes are declared; and one service definition may run several times in a process (tests).
// So each route resolves the runner of the instance serving the request (`ctx.deps.runner`).

import { type SagaRunner, sagaRoutes } from '@flotilla/saga';
import type { AnyRoute } from '@flotilla/service';
import type { OrderDeps } from './order-deps.js';

/** Where the operator API lives: @flotilla/service reserves /internal/* for its own routes. */
export const SAGA_ROUTES_BASE = '/sagas';

/** A runner that must never be called: the templates below only lend their method, path and schemas. */
const unbound = new Proxy({} as SagaRunner<unknown>, {
  get: () => {
    throw new Error('saga routes used without a runner');
  },
});

/** `GET /sagas`, `GET /sagas/:id`, `POST /sagas/:id/retry`, `POST /sagas/:id/resolve`, bound per instance. */
export function sagaAdminRoutes(): AnyRoute<OrderDeps>[] {
  const bound = new WeakMap<SagaRunner<unknown>, AnyRoute<OrderDeps>[]>();
  const routesOf = (runner: SagaRunner<unknown>): AnyRoute<OrderDeps>[] => {
    let routes = bound.get(runner);
    if (routes === undefined) {
      routes = sagaRoutes<OrderDeps>(runner, { basePath: SAGA_ROUTES_BASE });
      bound.set(runner, routes);
    }
    return routes;
  };
  return sagaRoutes<OrderDeps>(unbound, { basePath: SAGA_ROUTES_BASE }).map((template, i) => ({
    ...template,
    handler: (input, ctx) =>
      (routesOf(ctx.deps.runner as SagaRunner<unknown>)[i] as AnyRoute<OrderDeps>).handler(input, ctx),
  }));
}
