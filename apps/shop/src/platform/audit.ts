// The audit API: read-only listings of everything a service holds, for the chaos checker and
// operators. Each route is under /audit/* (nothing the gateway routes), needs a service token and
// refuses one that carries an end user (403 FORBIDDEN): a customer never sees other customers'
// data through it. Paged by id (`cursor` = the last id of the previous page). Infrastructure only:
// each service's page schema is in its own contract (e.g. AuditOrderPage in contracts/order-api.ts).
import type { EventBus } from '@flotilla/events';
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

/** A dead letter as `GET /audit/dead-letters` lists it (without the payload and stack). */
export const AuditDeadLetter = z.object({
  id: z.string(),
  group: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  subject: z.string(),
  reason: z.enum(['handler-failed', 'poison']),
  error: z.string(),
  attempts: z.number().int(),
  deadLetteredAt: z.iso.datetime(),
});

/** `GET /audit/dead-letters` (every service with an event bus): up to 1000, oldest first. */
export const AuditDeadLetterList = z.object({ items: z.array(AuditDeadLetter) });

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

/** `GET /audit/dead-letters` for a service whose deps hold its event bus. */
export function deadLetterAuditRoute<
  Deps extends { readonly bus: { readonly deadLetters: EventBus<unknown>['deadLetters'] } },
>(): AnyRoute<Deps> {
  return {
    method: 'GET',
    path: '/audit/dead-letters',
    summary: "Every dead letter of this service's consumer groups (operators; 403 for end users).",
    response: AuditDeadLetterList,
    handler: async (_input: unknown, ctx: RequestContext<Deps>) => {
      requireOperator(ctx);
      const letters = await ctx.deps.bus.deadLetters.list({ limit: 1000, signal: ctx.signal });
      return {
        items: letters.map((d) => ({
          id: d.id,
          group: d.group,
          eventId: d.eventId,
          eventType: d.eventType,
          subject: d.subject,
          reason: d.reason,
          error: d.error.message,
          attempts: d.attempts,
          deadLetteredAt: new Date(d.deadLetteredAt).toISOString(),
        })),
      };
    },
  };
}
