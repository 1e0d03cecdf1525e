import { type AnyRoute, ServiceError } from '@flotilla/service';
import { z } from 'zod';
import { isSagaNotFoundError, isSagaStateError } from './errors.js';
import type { SagaRunner } from './saga-runner.js';
import { SAGA_STATES, type SagaState } from './states.js';

/** Options of {@link sagaRoutes}. */
export interface SagaRoutesOptions {
  /**
   * Where the routes live. `@flotilla/service` reserves `/internal/*` for its own routes today,
   * so the console's `/internal/sagas` needs that reservation to admit these; until then mount
   * them elsewhere (they require a service token either way).
   * @default '/sagas'
   */
  readonly basePath?: string;
}

const BASE = /^(\/[A-Za-z0-9_.-]+)+$/;

/**
 * The operator API as route definitions for `defineService({ routes })`:
 * `GET {base}` (list: `state`, `name`, `olderThanMs`, `limit`, `cursor`), `GET {base}/counts`
 * (instances per state, `name` optional; a saga whose id is `counts` is therefore read with
 * `runner.get`, not this API), `GET {base}/:id` (one saga and its timeline), `POST {base}/:id/retry` and `POST {base}/:id/resolve`
 * (`{ note }`) for stuck sagas. Service-token authentication applies (the default of routes).
 *
 * @example
 * defineService({ name: 'order', version: '1.0.0', setup, routes: [...orderRoutes, ...sagaRoutes(runner)] });
 */
export function sagaRoutes<Deps = unknown>(
  runner: Pick<SagaRunner<unknown>, 'list' | 'counts' | 'get' | 'retry' | 'resolve'>,
  options: SagaRoutesOptions = {},
): AnyRoute<Deps>[] {
  const { basePath = '/sagas' } = options;
  if (typeof basePath !== 'string' || !BASE.test(basePath))
    throw new RangeError(`sagaRoutes.basePath must be a path like '/sagas', got ${JSON.stringify(basePath)}`);
  const r = runner;
  const idParams = z.object({ id: z.string().min(1).max(200) });
  return [
    {
      method: 'GET',
      path: basePath,
      summary: 'List sagas by state, name and age (newest first, paged).',
      query: z.object({
        state: z.enum(SAGA_STATES as [SagaState, ...SagaState[]]).optional(),
        name: z.string().min(1).max(100).optional(),
        olderThanMs: z.coerce.number().int().min(0).optional(),
        limit: z.coerce.number().int().min(1).max(500).optional(),
        cursor: z.string().max(1000).optional(),
      }),
      handler: ({ query }) => guard(() => r.list(dropUndefined(query))),
    },
    {
      method: 'GET',
      path: `${basePath}/counts`,
      summary: 'How many sagas are in each state (of one definition name, or all).',
      query: z.object({ name: z.string().min(1).max(100).optional() }),
      handler: ({ query }) => guard(async () => ({ counts: await r.counts(query.name) })),
    },
    {
      method: 'GET',
      path: `${basePath}/:id`,
      summary: 'One saga with its context and step timeline.',
      params: idParams,
      handler: ({ params }) => guard(() => r.get(params.id)),
    },
    {
      method: 'POST',
      path: `${basePath}/:id/retry`,
      summary: 'Run a stuck saga again.',
      params: idParams,
      handler: ({ params }) =>
        guard(async () => {
          await r.retry(params.id);
          return r.get(params.id);
        }),
    },
    {
      method: 'POST',
      path: `${basePath}/:id/resolve`,
      summary: 'Close a stuck saga with a note of what was done by hand.',
      params: idParams,
      body: z.object({ note: z.string().trim().min(1).max(2000) }),
      handler: ({ params, body }) =>
        guard(async () => {
          await r.resolve(params.id, body.note);
          return r.get(params.id);
        }),
    },
  ];
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isSagaNotFoundError(err)) throw new ServiceError(404, err.code, err.message, { cause: err });
    if (isSagaStateError(err))
      throw new ServiceError(409, err.code, err.message, { details: { state: err.state }, cause: err });
    if (err instanceof RangeError)
      throw new ServiceError(400, 'VALIDATION_FAILED', err.message, { cause: err, retryable: false });
    throw err;
  }
}
