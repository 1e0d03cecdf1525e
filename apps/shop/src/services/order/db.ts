// The order service's tables as Kysely sees them (its own database; nobody else reads it).
import type { SagaTables } from '@flotilla/saga';

/** One order. Money in integer minor units, times in epoch milliseconds. */
export interface OrdersTable {
  id: string;
  customer_id: string;
  /** `PENDING`, `CONFIRMED` or `CANCELLED`. */
  status: string;
  /** Why a CANCELLED order was cancelled (a `CancellationReason`); `null` otherwise. */
  reason: string | null;
  /** The lines as JSON: `[{ sku, quantity, unitPriceMinor }]`. */
  items: string;
  total_minor: number;
  currency: string;
  /** The client's `Idempotency-Key`, unique per customer. */
  idempotency_key: string;
  /** sha256 of the normalised request, to tell a replay from a reused key. */
  request_hash: string;
  created_at: number;
  updated_at: number;
}

/**
 * One failed attempt of a fulfillment step that calls another service: how the failure was
 * classified, and whether the participant may have acted anyway (a timeout, a dropped
 * connection). Compensations and the final cancellation read it.
 */
export interface FulfillmentFailuresTable {
  order_id: string;
  step: string;
  /** The saga's attempt number of the step (counts on across restarts). */
  attempt: number;
  /** The cancellation reason this failure leads to if it is the last one. */
  reason: string;
  /** The error code seen (`OUT_OF_STOCK`, `UPSTREAM_UNAVAILABLE`, `TIMEOUT`, …). */
  code: string;
  detail: string;
  /** 1 when the participant may have applied the request despite the failure. */
  uncertain: number;
  created_at: number;
}

/** The order service's database: its tables and the saga runner's. */
export interface OrderDb extends SagaTables {
  orders: OrdersTable;
  fulfillment_failures: FulfillmentFailuresTable;
}
