// Kysely table types of the payment database (see migrations.ts).
import type { IdempotencyTables } from '@flotilla/saga';

/** A payment the provider answered. */
export interface PaymentsTable {
  id: string;
  order_id: string;
  customer_id: string;
  amount_minor: number;
  currency: string;
  /** `CAPTURED`, `DECLINED` or `REFUNDED`. */
  status: string;
  refunded_minor: number;
  /** `AMOUNT_RULE` or `PROVIDER_DECLINED` for DECLINED payments. */
  decline_reason: string | null;
  /** The charge request's Idempotency-Key. */
  idempotency_key: string;
  created_at: number;
  updated_at: number;
}

/** The payment database. */
export interface PaymentDb extends IdempotencyTables {
  payments: PaymentsTable;
}
