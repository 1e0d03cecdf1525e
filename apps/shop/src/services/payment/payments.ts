// Charging and refunding through the provider, and what was charged per order. The provider is
// called OUTSIDE any database transaction (its latency must not hold the write lock); the
// outcome is then recorded through the idempotency table, so a repeated key — even one racing
// the first — records one payment and answers the first outcome.
import { randomUUID } from 'node:crypto';
import { ServiceError } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import type { Kysely } from 'kysely';
import type { ChargeRequest, Payment } from '../../contracts/payment-api.js';
import {
  idempotentCommand,
  type Outcome,
  recordedOutcome,
  settle,
} from '../../platform/idempotent-request.js';
import type { PaymentDb, PaymentsTable } from './db.js';
import { isProviderUnavailableError, type PaymentProvider } from './provider.js';

/** What charging and refunding need. */
export interface PaymentsDeps {
  readonly store: Store<PaymentDb>;
  readonly provider: PaymentProvider;
  readonly now: () => number;
}

/** A capture as `POST /payments` answers it. */
export interface Captured {
  readonly paymentId: string;
  readonly orderId: string;
  readonly status: 'CAPTURED';
  readonly amountMinor: number;
  readonly currency: string;
}

/** A refund as `POST /payments/:id/refund` answers it. */
export interface Refunded {
  readonly paymentId: string;
  readonly status: 'REFUNDED';
  readonly refundedMinor: number;
}

const CHARGE = 'POST /payments';
const REFUND = 'POST /payments/:id/refund';

/** The provider failed: 503 `PROVIDER_UNAVAILABLE`, retryable, nothing recorded. */
async function callProvider<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isProviderUnavailableError(err))
      throw new ServiceError(503, 'PROVIDER_UNAVAILABLE', err.message, { retryAfterSeconds: 1, cause: err });
    throw err;
  }
}

/**
 * Charges an order once per Idempotency-Key: 201 CAPTURED, or 402 `PAYMENT_DECLINED` (the
 * declined payment is recorded, and the same key declines again without asking the provider),
 * or 503 `PROVIDER_UNAVAILABLE` (nothing recorded; retry with the same key).
 */
export async function charge(
  deps: PaymentsDeps,
  request: ChargeRequest,
  givenKey: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<Captured> {
  // Test only: FLOTILLA_TEST_BREAK_PAYMENT_DEDUP=1 builds a broken payment service that forgets
  // every Idempotency-Key, so a retried charge takes the money again. The chaos checker's own
  // test runs it to prove that the checker reports the duplicate payment.
  const key =
    process.env.FLOTILLA_TEST_BREAK_PAYMENT_DEDUP === '1' ? `${givenKey}#${randomUUID()}` : givenKey;
  const recorded = await recordedOutcome<Captured, PaymentDb>(deps.store.db, CHARGE, key, request);
  if (recorded !== undefined) return settle(recorded);
  const decision = await callProvider(() =>
    deps.provider.charge(
      { amountMinor: request.amountMinor, currency: request.currency, idempotencyKey: key },
      options.signal === undefined ? {} : { signal: options.signal },
    ),
  );
  return idempotentCommand(
    deps.store,
    CHARGE,
    key,
    request,
    async (tx): Promise<Outcome<Captured>> => {
      const at = deps.now();
      const id = randomUUID();
      const declined = decision.outcome === 'declined';
      await tx
        .insertInto('payments')
        .values({
          id,
          order_id: request.orderId,
          customer_id: request.customerId,
          amount_minor: request.amountMinor,
          currency: request.currency,
          status: declined ? 'DECLINED' : 'CAPTURED',
          refunded_minor: 0,
          decline_reason: declined ? decision.reason : null,
          idempotency_key: key,
          created_at: at,
          updated_at: at,
        })
        .execute();
      if (declined)
        return {
          ok: false,
          status: 402,
          code: 'PAYMENT_DECLINED',
          message: `the payment of ${request.amountMinor} ${request.currency} was declined`,
          details: { paymentId: id, reason: decision.reason },
        };
      return {
        ok: true,
        body: {
          paymentId: id,
          orderId: request.orderId,
          status: 'CAPTURED',
          amountMinor: request.amountMinor,
          currency: request.currency,
        },
      };
    },
    deps.now,
  );
}

const notFound = (id: string): ServiceError =>
  new ServiceError(404, 'PAYMENT_NOT_FOUND', `no payment ${id}`, { details: { paymentId: id } });

const refunded = (row: PaymentsTable): Refunded => ({
  paymentId: row.id,
  status: 'REFUNDED',
  refundedMinor: row.refunded_minor,
});

/**
 * Refunds a captured payment in full, once: a second refund (any key) answers the same and
 * refunds nothing more. 404 `PAYMENT_NOT_FOUND`; 409 `PAYMENT_NOT_REFUNDABLE` for a declined
 * payment; 503 `PROVIDER_UNAVAILABLE` (retry).
 */
export async function refund(
  deps: PaymentsDeps,
  paymentId: string,
  key: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<Refunded> {
  const request = { paymentId };
  const recorded = await recordedOutcome<Refunded, PaymentDb>(deps.store.db, REFUND, key, request);
  if (recorded !== undefined) return settle(recorded);
  const row = await deps.store.db
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', paymentId)
    .executeTakeFirst();
  if (row === undefined) throw notFound(paymentId);
  if (row.status === 'DECLINED')
    throw new ServiceError(
      409,
      'PAYMENT_NOT_REFUNDABLE',
      `payment ${paymentId} was declined: nothing to refund`,
      {
        details: { paymentId, status: row.status },
      },
    );
  if (row.status === 'REFUNDED') return refunded(row);
  await callProvider(() =>
    deps.provider.refund(
      { paymentId, amountMinor: row.amount_minor, idempotencyKey: `refund:${paymentId}` },
      options.signal === undefined ? {} : { signal: options.signal },
    ),
  );
  return idempotentCommand(
    deps.store,
    REFUND,
    key,
    request,
    async (tx): Promise<Outcome<Refunded>> => {
      // Guarded: of two refunds racing (different keys), only one moves the payment.
      const updated = await tx
        .updateTable('payments')
        .set((eb) => ({ status: 'REFUNDED', refunded_minor: eb.ref('amount_minor'), updated_at: deps.now() }))
        .where('id', '=', paymentId)
        .where('status', '=', 'CAPTURED')
        .returningAll()
        .executeTakeFirst();
      const after =
        updated ??
        (await tx.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirstOrThrow());
      return { ok: true, body: refunded(after) };
    },
    deps.now,
  );
}

/** A payment row as the API lists it. */
export function paymentView(row: PaymentsTable): Payment {
  return {
    paymentId: row.id,
    orderId: row.order_id,
    customerId: row.customer_id,
    status: row.status as Payment['status'],
    amountMinor: row.amount_minor,
    chargedMinor: row.status === 'DECLINED' ? 0 : row.amount_minor,
    refundedMinor: row.refunded_minor,
    currency: row.currency,
    declineReason: row.decline_reason as Payment['declineReason'],
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** The order's payments (the caller's own only, when it calls for a customer) and their sums. */
export async function paymentsOfOrder(
  db: Kysely<PaymentDb>,
  orderId: string,
  customerId: string | undefined,
): Promise<{ items: Payment[]; chargedMinor: number; refundedMinor: number }> {
  const rows = await db
    .selectFrom('payments')
    .selectAll()
    .where('order_id', '=', orderId)
    .$if(customerId !== undefined, (q) => q.where('customer_id', '=', customerId as string))
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const items = rows.map(paymentView);
  return {
    items,
    chargedMinor: items.reduce((sum, p) => sum + p.chargedMinor, 0),
    refundedMinor: items.reduce((sum, p) => sum + p.refundedMinor, 0),
  };
}
