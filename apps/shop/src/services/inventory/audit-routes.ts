// The inventory service's audit routes (read-only, operators and the chaos checker; see
// platform/audit.ts): every reservation. Stock of every SKU with its conservation counters is
// `GET /stock`.
import type { AnyRoute } from '@flotilla/service';
import { AuditReservationPage } from '../../contracts/inventory-api.js';
import { AuditPageQuery, pageOf, requireOperator } from '../../platform/audit.js';
import { reservationView } from './reservations.js';
import type { InventoryDeps } from './service.js';

/** `GET /audit/reservations?limit&cursor` (every reservation, in id order). */
export function inventoryAuditRoutes(): AnyRoute<InventoryDeps>[] {
  return [
    {
      method: 'GET',
      path: '/audit/reservations',
      summary: 'Every reservation in any state, in id order (operators; 403 for end users).',
      query: AuditPageQuery,
      response: AuditReservationPage,
      handler: async ({ query }: { query: { limit: number; cursor?: string } }, ctx) => {
        requireOperator(ctx);
        const rows = await ctx.deps.store.db
          .selectFrom('reservations')
          .selectAll()
          .$if(query.cursor !== undefined, (q) => q.where('id', '>', query.cursor as string))
          .orderBy('id')
          .limit(query.limit + 1)
          .execute();
        return pageOf(rows, query.limit, reservationView);
      },
    },
  ];
}
