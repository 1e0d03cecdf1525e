// The order service's audit routes (read-only, operators and the chaos checker; see
// platform/audit.ts): every order.
import type { AnyRoute } from '@flotilla/service';
import { AuditOrderPage } from '../../contracts/order-api.js';
import { AuditPageQuery, pageOf, requireOperator } from '../../platform/audit.js';
import type { OrderDeps } from './order-deps.js';
import { toOrderView } from './order-view.js';

/** `GET /audit/orders?limit&cursor` (every order, in id order). */
export const orderAuditRoutes: readonly AnyRoute<OrderDeps>[] = [
  {
    method: 'GET',
    path: '/audit/orders',
    summary: 'Every order, in id order (operators; 403 for end users).',
    query: AuditPageQuery,
    response: AuditOrderPage,
    handler: async ({ query }: { query: { limit: number; cursor?: string } }, ctx) => {
      requireOperator(ctx);
      const rows = await ctx.deps.store.db
        .selectFrom('orders')
        .selectAll()
        .$if(query.cursor !== undefined, (q) => q.where('id', '>', query.cursor as string))
        .orderBy('id')
        .limit(query.limit + 1)
        .execute();
      return pageOf(rows, query.limit, toOrderView);
    },
  },
];
