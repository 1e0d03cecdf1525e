// Reading shipments: a customer's own (optionally of one order), or all of them (operators).
import type { Kysely, Selectable } from 'kysely';
import type { Carrier, ShipmentPage, ShipmentView } from '../../contracts/shipping-api.js';
import { decodeCursor, encodeCursor } from '../../platform/page-cursor.js';
import type { ShipmentsTable, ShippingDb } from './db.js';

/** A shipment row as the API shows it. */
export function toShipmentView(row: Selectable<ShipmentsTable>): ShipmentView {
  return {
    shipmentId: row.id,
    orderId: row.order_id,
    customerId: row.customer_id,
    carrier: row.carrier as Carrier,
    trackingNumber: row.tracking_number,
    status: row.status as ShipmentView['status'],
    createdAt: new Date(Number(row.created_at)).toISOString(),
    dispatchedAt: row.dispatched_at === null ? null : new Date(Number(row.dispatched_at)).toISOString(),
  };
}

/** A page of shipments, newest first: of `customerId` when given (else every customer's), of `orderId` when given. */
export async function listShipments(
  db: Kysely<ShippingDb>,
  query: {
    customerId?: string | undefined;
    orderId?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  },
): Promise<ShipmentPage> {
  let q = db.selectFrom('shipments').selectAll();
  if (query.customerId !== undefined) q = q.where('customer_id', '=', query.customerId);
  if (query.orderId !== undefined) q = q.where('order_id', '=', query.orderId);
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
    items: page.map(toShipmentView),
    nextCursor:
      rows.length > query.limit && last !== undefined
        ? encodeCursor({ createdAt: Number(last.created_at), id: last.id })
        : null,
  };
}
