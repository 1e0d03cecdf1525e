// The shipping service's tables as Kysely sees them (its own database).

/** One shipment; times in epoch milliseconds. */
export interface ShipmentsTable {
  id: string;
  /** Unique: one shipment per order, however often OrderConfirmed arrives. */
  order_id: string;
  customer_id: string;
  carrier: string;
  tracking_number: string;
  /** `CREATED` or `DISPATCHED`. */
  status: string;
  created_at: number;
  dispatched_at: number | null;
}

/** The shipping service's database. */
export interface ShippingDb {
  shipments: ShipmentsTable;
}
