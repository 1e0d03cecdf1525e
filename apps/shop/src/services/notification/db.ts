// The notification service's tables as Kysely sees them (its own database).

/** One message of the local mail sink; times in epoch milliseconds. */
export interface NotificationsTable {
  id: string;
  order_id: string;
  customer_id: string;
  /** `ORDER_CONFIRMED`, `ORDER_CANCELLED` or `SHIPMENT_DISPATCHED`; unique with `order_id`. */
  kind: string;
  /** Always `email` today. */
  channel: string;
  subject: string;
  body: string;
  event_id: string;
  created_at: number;
}

/** The notification service's database. */
export interface NotificationDb {
  notifications: NotificationsTable;
}
