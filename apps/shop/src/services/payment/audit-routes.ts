// The payment service's audit routes (read-only, operators and the chaos checker; see
// platform/audit.ts): every payment. (payment consumes no events: it has no dead letters.)
import type { AnyRoute } from '@flotilla/service';
import { AuditPaymentPage } from '../../contracts/payment-api.js';
import { AuditPageQuery, pageOf, requireOperator } from '../../platform/audit.js';
import { paymentView } from './payments.js';
import type { PaymentDeps } from './service.js';

/** `GET /audit/payments?limit&cursor` (every payment, in id order). */
export function paymentAuditRoutes(): AnyRoute<PaymentDeps>[] {
  return [
    {
      method: 'GET',
      path: '/audit/payments',
      summary: 'Every payment, in id order (operators; 403 for end users).',
      query: AuditPageQuery,
      response: AuditPaymentPage,
      handler: async ({ query }: { query: { limit: number; cursor?: string } }, ctx) => {
        requireOperator(ctx);
        const rows = await ctx.deps.store.db
          .selectFrom('payments')
          .selectAll()
          .$if(query.cursor !== undefined, (q) => q.where('id', '>', query.cursor as string))
          .orderBy('id')
          .limit(query.limit + 1)
          .execute();
        return pageOf(rows, query.limit, paymentView);
      },
    },
  ];
}
