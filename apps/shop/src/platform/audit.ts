// The audit API: read-only listings of everything a service holds, for the chaos checker and
// operators. Each route is under /audit/* (nothing the gateway routes), needs a service token and
// refuses one that carries an end user (403 FORBIDDEN): a customer never sees other customers'
// data through it. Paged by id (`cursor` = the last id of the previous page). Infrastructure only:
// each service's page schema is in its own contract (e.g. AuditOrderPage in contracts/order-api.ts).
// The event bus's operator routes (stats, dead letters) follow the same rule: busAdminRoutes.
import { type EventBusRoutesTarget, eventBusRoutes } from '@flotilla/events';
import { type AnyRoute, type RequestContext, ServiceError } from '@flotilla/service';
import { z } from 'zod';

/** Query of the paged audit listings. */
export const AuditPageQuery = z.strictObject({
  /** Page size. @default 500 */
  limit: z.coerce.number().int().min(1).max(1000).default(500),
  /** The last id of the previous page. */
  cursor: z.string().min(1).max(200).optional(),
});

/** A page of an audit listing, in id order; `nextCursor` is null on the last page. */
export function auditPage<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** 403 `FORBIDDEN` when the service token carries an end user. */
export function requireOperator(ctx: RequestContext<unknown>): void {
  if (ctx.user !== undefined)
    throw new ServiceError(403, 'FORBIDDEN', 'the audit API is for services and operators, not end users', {
      retryable: false,
    });
}

/** The items of one page and the cursor of the next, from `limit + 1` rows in id order. */
export function pageOf<R extends { id: string }, T>(
  rows: readonly R[],
  limit: number,
  view: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return {
    items: page.map(view),
    nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

/**
 * @flotilla/events' `eventBusRoutes` for a service whose deps hold its event bus:
 * `GET /events/stats`, `GET /dead-letters?group&type&limit`, `GET /dead-letters/:id`,
 * `POST /dead-letters/:id/replay` and `POST /dead-letters/:id/discard` (operators and the chaos
 * checker; 403 for end users).
 */
export function busAdminRoutes<Deps extends { readonly bus: EventBusRoutesTarget }>(): AnyRoute<Deps>[] {
  return eventBusRoutes<Deps>((ctx) => ctx.deps.bus, { authorize: requireOperator });
}
