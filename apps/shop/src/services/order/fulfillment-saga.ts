// The fulfillment saga of an order, run by the order service's saga runner:
//
//   accept_order       local, compensatable — its compensation is the cancellation (see below)
//   reserve_inventory  inventory POST /reservations       ↩ POST /reservations/:id/release
//   process_payment    payment POST /payments             ↩ POST /payments/:id/refund
//   confirm_order      local pivot: CONFIRMED + OrderConfirmed in one transaction
//
// The saga has no hook for "a final local step after compensating", so the first step is a local
// no-op whose compensation — run last, in one transaction with the saga's checkpoint — sets the
// order CANCELLED with its reason and publishes OrderCancelled. Each call carries the step's
// idempotency key (`{sagaId}:{step}`, `…:compensate` for compensations): the participants apply
// it at most once, however often the runner retries or resumes after a crash.

import type { EventBus } from '@flotilla/events';
import type { Backoff } from '@flotilla/resilience';
import { defineSaga, type SagaLogger, type StepContext } from '@flotilla/saga';
import type { Clients, ServiceClient } from '@flotilla/service';
import { isUpstreamError } from '@flotilla/service';
import type { Store, Tx } from '@flotilla/store';
import type { z } from 'zod';
import { Reservation, ReservationList } from '../../contracts/inventory-api.js';
import { OrderCancelled, OrderConfirmed, type OrderLine } from '../../contracts/order-events.js';
import { ChargeResponse, PaymentList, RefundResponse } from '../../contracts/payment-api.js';
import type { OrderDb } from './db.js';
import { cancellationCause, mayHaveApplied, recordFailure } from './fulfillment-failures.js';
import { type CallStep, classifyFailure, FulfillmentStepError } from './step-failure.js';

/** The saga's name (instances are listed under it at GET /sagas). */
export const FULFILLMENT_SAGA = 'order-fulfillment';

/** What the saga starts with (its id is the order id). */
export interface FulfillmentInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly z.infer<typeof OrderLine>[];
  readonly totalMinor: number;
  readonly currency: string;
}

/** Retry policy of a step that calls a participant. */
export interface CallRetry {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  /** Delay before each retry (the saga is released while it waits). */
  readonly backoff: Backoff;
}

/** What the saga's steps use. */
export interface FulfillmentDeps {
  readonly store: Store<OrderDb>;
  readonly bus: EventBus<OrderDb>;
  /** The service's clients (for `inventory` and `payment`). */
  readonly clients: Clients;
  /** Where cancellations and unrecorded failures are reported (the service's logger). */
  readonly log: SagaLogger;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  readonly inventoryRetry: CallRetry;
  readonly paymentRetry: CallRetry;
  /** Time allowed per attempt of a call step, in ms (the client's own timeout is shorter). */
  readonly stepTimeoutMs: number;
}

type Reserved = { readonly reservationId: string };
type Paid = { readonly paymentId: string };

/**
 * Defines the fulfillment saga over the order service's dependencies.
 *
 * @example
 * const saga = fulfillmentSaga(deps);
 * const runner = createSagaRunner({ store, sagas: [saga] });
 * await store.transaction((tx) => runner.start(tx, saga, input, { id: input.orderId }));
 */
export function fulfillmentSaga(deps: FulfillmentDeps) {
  const { clients } = deps;
  return defineSaga<FulfillmentInput, OrderDb>(FULFILLMENT_SAGA, { version: 1 })
    .step('accept_order', {
      local: async () => undefined,
      compensate: { local: (tx, ctx, step) => cancelOrder(deps, tx, ctx, step) },
    })
    .step('reserve_inventory', {
      retry: deps.inventoryRetry,
      timeoutMs: deps.stepTimeoutMs,
      action: async (ctx, step): Promise<Reserved> => {
        const inventory = step.call(clients.get('inventory'));
        try {
          const reservation = await inventory.post('/reservations', {
            body: {
              orderId: ctx.orderId,
              customerId: ctx.customerId,
              items: ctx.items.map(({ sku, quantity }) => ({ sku, quantity })),
            },
            schema: Reservation,
          });
          return { reservationId: reservation.reservationId };
        } catch (err) {
          throw await failed(deps, ctx, step, 'reserve_inventory', err);
        }
      },
      compensate: async (ctx, step) => {
        const inventory = step.call(clients.get('inventory'));
        const known = (ctx as Partial<Reserved>).reservationId;
        let ids: string[];
        if (known !== undefined) ids = [known];
        else if (!(await mayHaveApplied(deps.store.db, step.sagaId, ctx.orderId, 'reserve_inventory')))
          return;
        else {
          const found = await inventory.get('/reservations', {
            query: { orderId: ctx.orderId },
            schema: ReservationList,
          });
          ids = found.items
            .filter((r) => r.status === 'PENDING' || r.status === 'CONFIRMED')
            .map((r) => r.reservationId);
        }
        for (const [i, id] of ids.entries())
          await undo(inventory, `/reservations/${encodeURIComponent(id)}/release`, keyFor(step, i, id), {
            schema: Reservation,
            gone: ['RESERVATION_NOT_FOUND'],
            route: '/reservations/:id/release',
          });
      },
    })
    .step('process_payment', {
      retry: deps.paymentRetry,
      timeoutMs: deps.stepTimeoutMs,
      action: async (ctx, step): Promise<Paid> => {
        const payment = step.call(clients.get('payment'));
        try {
          const charge = await payment.post('/payments', {
            body: {
              orderId: ctx.orderId,
              customerId: ctx.customerId,
              amountMinor: ctx.totalMinor,
              currency: ctx.currency,
            },
            schema: ChargeResponse,
          });
          return { paymentId: charge.paymentId };
        } catch (err) {
          throw await failed(deps, ctx, step, 'process_payment', err);
        }
      },
      compensate: async (ctx, step) => {
        const payment = step.call(clients.get('payment'));
        const known = (ctx as Partial<Paid>).paymentId;
        let ids: string[];
        if (known !== undefined) ids = [known];
        else if (!(await mayHaveApplied(deps.store.db, step.sagaId, ctx.orderId, 'process_payment'))) return;
        else {
          const found = await payment.get('/payments', {
            query: { orderId: ctx.orderId },
            schema: PaymentList,
          });
          ids = found.items.filter((p) => p.status === 'CAPTURED').map((p) => p.paymentId);
        }
        for (const [i, id] of ids.entries())
          await undo(payment, `/payments/${encodeURIComponent(id)}/refund`, keyFor(step, i, id), {
            schema: RefundResponse,
            gone: ['PAYMENT_NOT_FOUND', 'PAYMENT_NOT_REFUNDABLE'],
            route: '/payments/:id/refund',
          });
      },
    })
    .step('confirm_order', {
      kind: 'pivot',
      local: async (tx, ctx, step) => {
        const { reservationId, paymentId } = ctx as FulfillmentInput & Reserved & Paid;
        const confirmed = await tx
          .updateTable('orders')
          .set({ status: 'CONFIRMED', updated_at: deps.now() })
          .where('id', '=', ctx.orderId)
          .where('status', '=', 'PENDING')
          .executeTakeFirst();
        if (Number(confirmed.numUpdatedRows) !== 1)
          throw new Error(`order ${ctx.orderId} is not PENDING any more; it cannot be confirmed`);
        await deps.bus.publish(tx, OrderConfirmed, {
          subject: ctx.orderId,
          id: step.idempotencyKey,
          trace: step.trace,
          data: {
            orderId: ctx.orderId,
            customerId: ctx.customerId,
            items: [...ctx.items],
            totalMinor: ctx.totalMinor,
            currency: ctx.currency,
            reservationId,
            paymentId,
          },
        });
      },
    });
}

/** The last compensation: the order is CANCELLED with its reason and OrderCancelled is published. */
async function cancelOrder(
  deps: FulfillmentDeps,
  tx: Tx<OrderDb>,
  ctx: Readonly<FulfillmentInput>,
  step: StepContext,
): Promise<void> {
  const cause = await cancellationCause(tx, step.sagaId, ctx.orderId);
  const cancelled = await tx
    .updateTable('orders')
    .set({ status: 'CANCELLED', reason: cause.reason, updated_at: deps.now() })
    .where('id', '=', ctx.orderId)
    .where('status', '=', 'PENDING')
    .executeTakeFirst();
  if (Number(cancelled.numUpdatedRows) !== 1) return;
  await deps.bus.publish(tx, OrderCancelled, {
    subject: ctx.orderId,
    id: step.idempotencyKey,
    trace: step.trace,
    data: { orderId: ctx.orderId, customerId: ctx.customerId, reason: cause.reason, detail: cause.detail },
  });
  deps.log.info({ orderId: ctx.orderId, reason: cause.reason, detail: cause.detail }, 'order cancelled');
}

/** Classifies and records a failed call, and returns the error the saga acts on. */
async function failed(
  deps: FulfillmentDeps,
  ctx: Readonly<FulfillmentInput>,
  step: StepContext,
  name: CallStep,
  err: unknown,
): Promise<FulfillmentStepError> {
  const failure = classifyFailure(name, err);
  try {
    await recordFailure(deps.store.db, {
      orderId: ctx.orderId,
      step: name,
      attempt: step.attempt,
      failure,
      now: deps.now(),
    });
  } catch (recordErr) {
    // Unrecorded, the attempt counts as uncertain: its compensation will look for an effect.
    deps.log.warn(
      { err: recordErr, orderId: ctx.orderId, step: name },
      'could not record a failed step attempt',
    );
  }
  return new FulfillmentStepError(failure, { cause: err });
}

/** The compensation's key for its `i`-th effect: the step's own for the first, derived ones after it. */
function keyFor(step: StepContext, i: number, id: string): string {
  return i === 0 ? step.idempotencyKey : `${step.idempotencyKey}:${id}`;
}

/** Undoes one effect; an effect the participant no longer has (or cannot undo by nature) counts as undone. */
async function undo(
  client: ServiceClient,
  path: string,
  idempotencyKey: string,
  options: { schema: z.ZodType; gone: readonly string[]; route: string },
): Promise<void> {
  try {
    await client.post(path, { idempotencyKey, schema: options.schema, route: options.route });
  } catch (err) {
    if (isUpstreamError(err) && err.status < 500 && options.gone.includes(err.code)) return;
    throw err;
  }
}
