// Reading orders as their owner sees them: one by id, or a newest-first page of their own.
import { ServiceError } from '@flotilla/service';
import type { Kysely, Selectable } from 'kysely';
import type { z } from 'zod';
import type { OrderPage, OrderStatus, OrderView } from '../../contracts/order-api.js';
import type { CancellationReason, OrderLine } from '../../contracts/order-events.js';
import { decodeCursor, encodeCursor } from '../../platform/page-cursor.js';
import type { OrderDb, OrdersTable } from './db.js';

/** An order row as the API shows it. */
export function toOrderView(row: Selectable<OrdersTable>): OrderView {
  return {
    id: row.id,
    customerId: row.customer_id,
    status: row.status as OrderStatus,
    ...(row.reason === null ? {} : { reason: row.reason as z.infer<typeof CancellationReason> }),
    items: JSON.parse(row.items) as z.infer<typeof OrderLine>[],
    totalMinor: Number(row.total_minor),
    currency: row.currency,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
  };
}

/** The order `id` of `customerId`; 404 `ORDER_NOT_FOUND` when it does not exist or is another customer's. */
export async function getOrder(db: Kysely<OrderDb>, id: string, customerId: string): Promise<OrderView> {
  const row = await db
    .selectFrom('orders')
    .selectAll()
    .where('id', '=', id)
    .where('customer_id', '=', customerId)
    .executeTakeFirst();
  if (row === undefined) throw new ServiceError(404, 'ORDER_NOT_FOUND', `no order ${id}`);
  return toOrderView(row);
}

/** A page of `customerId`'s orders, newest first, optionally of one status. */
export async function listOrders(
  db: Kysely<OrderDb>,
  customerId: string,
  query: { status?: OrderStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<OrderPage> {
  let q = db.selectFrom('orders').selectAll().where('customer_id', '=', customerId);
  if (query.status !== undefined) q = q.where('status', '=', query.status);
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.createdAt),
        eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
      ]),
    );
  }
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toOrderView),
    nextCursor:
      rows.length > query.limit && last !== undefined
        ? encodeCursor({ createdAt: Number(last.created_at), id: last.id })
        : null,
  };
}
