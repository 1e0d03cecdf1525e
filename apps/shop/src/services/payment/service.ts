/**
 * payment — charges orders through a simulated card provider and refunds them. The provider's
 * behaviour is configuration: PAYMENT_LATENCY_MS (default 5) per call, PAYMENT_DECLINE_RATE
 * (default 0) of charges declined at random, PAYMENT_FAILURE_RATE (default 0) of calls failing
 * as unavailable. Demo rule: an amount whose last two digits are 13 minor units (10.13 EUR,
 * 25.13 EUR, …) is ALWAYS declined — the load scenario uses it to create declined orders on
 * purpose. Payments are recorded per Idempotency-Key: captured and declined ones both, so the
 * same key always answers the same; a provider failure records nothing. Keys are kept
 * SHOP_IDEMPOTENCY_RETENTION_MS (default 7 days), then pruned (every hour).
 *
 * Routes (service token required; errors in the standard shape; bad input → 400 VALIDATION_FAILED):
 * - `POST /payments` {orderId, customerId, amountMinor, currency}, header Idempotency-Key →
 *   201 {paymentId, orderId, status: 'CAPTURED', amountMinor, currency}; 400
 *   IDEMPOTENCY_KEY_REQUIRED; 402 PAYMENT_DECLINED (details {paymentId, reason}); 422
 *   IDEMPOTENCY_KEY_REUSED; 503 PROVIDER_UNAVAILABLE (retryable, Retry-After: 1).
 * - `POST /payments/:id/refund` (Idempotency-Key optional) → 200 {paymentId, status:
 *   'REFUNDED', refundedMinor}, the same for every repeat; 404 PAYMENT_NOT_FOUND; 409
 *   PAYMENT_NOT_REFUNDABLE (declined); 503 PROVIDER_UNAVAILABLE.
 * - `GET /payments?orderId=` → 200 {items, chargedMinor, refundedMinor} (a customer's call sees
 *   only their own payments).
 * - `GET /events/stats`, `GET /dead-letters[/:id]`, `POST /dead-letters/:id/replay|discard`: the
 *   event bus's operator routes (platform/audit.ts; 403 for end users).
 */
import type { EventBus } from '@flotilla/events';
import { type Clock, type RandomSource, systemClock } from '@flotilla/resilience';
import { type IdempotencyPruner, idempotencyMigrations } from '@flotilla/saga';
import { defineService, type Service } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { z } from 'zod';
import {
  ChargeRequest,
  ChargeResponse,
  PaymentList,
  PaymentQuery,
  RefundResponse,
} from '../../contracts/payment-api.js';
import { busAdminRoutes } from '../../platform/audit.js';
import {
  idempotencyRetentionMs,
  pruneIdempotencyKeysUntilClose,
  requireIdempotencyKey,
} from '../../platform/idempotent-request.js';
import { openPlatform } from '../../platform/runtime.js';
import { paymentAuditRoutes } from './audit-routes.js';
import type { PaymentDb } from './db.js';
import { paymentMigrations } from './migrations.js';
import { charge, paymentsOfOrder, refund } from './payments.js';
import { type PaymentProvider, simulatedProvider } from './provider.js';

/** The payment service's own environment variables. */
export const paymentConfig = z.object({
  /** Time each provider call takes, in ms. */
  PAYMENT_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(5),
  /** Share of charges the provider declines at random, 0..1. */
  PAYMENT_DECLINE_RATE: z.coerce.number().min(0).max(1).default(0),
  /** Share of provider calls failing as unavailable (503, retryable), 0..1. */
  PAYMENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  /** How long an Idempotency-Key and its answer are kept, in ms (see `idempotencyRetentionMs`). */
  SHOP_IDEMPOTENCY_RETENTION_MS: idempotencyRetentionMs,
});

/** What the payment service's handlers use. */
export interface PaymentDeps {
  readonly store: Store<PaymentDb>;
  /** Publishes and consumes nothing yet: started for its relay, health and operator routes. */
  readonly bus: EventBus<PaymentDb>;
  readonly provider: PaymentProvider;
  /** Prunes expired idempotency keys (SHOP_IDEMPOTENCY_RETENTION_MS). */
  readonly idempotencyKeys: IdempotencyPruner;
  readonly now: () => number;
}

/** Options of {@link createPaymentService} (tests). */
export interface PaymentServiceOptions {
  /** Times the provider's latency and schedules the pruning of idempotency keys. @default systemClock */
  readonly clock?: Clock;
  /** The provider's random draws (decline and failure rates). @default Math.random */
  readonly random?: RandomSource;
  /** Wall clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

const PaymentId = z.object({ id: z.string().min(1).max(100) });

/** Builds the payment service's definition. */
export function createPaymentService(options: PaymentServiceOptions = {}): Service<PaymentDeps> {
  const clock = options.clock ?? systemClock;
  const now = options.now ?? Date.now;
  const service = defineService({
    name: 'payment',
    version: '1.0.0',
    config: paymentConfig,
    setup: async (ctx): Promise<PaymentDeps> => {
      const { store, bus } = await openPlatform<PaymentDb>(ctx, paymentMigrations, idempotencyMigrations);
      // payment publishes and consumes nothing yet; the bus is started for its relay and health.
      await bus.start();
      const idempotencyKeys = pruneIdempotencyKeysUntilClose(ctx, {
        store,
        retentionMs: ctx.config.SHOP_IDEMPOTENCY_RETENTION_MS,
        clock,
        now,
      });
      const provider = simulatedProvider({
        latencyMs: ctx.config.PAYMENT_LATENCY_MS,
        declineRate: ctx.config.PAYMENT_DECLINE_RATE,
        failureRate: ctx.config.PAYMENT_FAILURE_RATE,
        clock,
        ...(options.random === undefined ? {} : { random: options.random }),
      });
      return { store, bus, provider, now, idempotencyKeys };
    },
  })
    .route({
      method: 'POST',
      path: '/payments',
      status: 201,
      summary: 'Charges an order (Idempotency-Key required)',
      body: ChargeRequest,
      response: ChargeResponse,
      handler: ({ body }, { deps, idempotencyKey, signal }) =>
        charge(deps, body, requireIdempotencyKey(idempotencyKey), { signal }),
    })
    .route({
      method: 'POST',
      path: '/payments/:id/refund',
      summary: 'Refunds a captured payment in full, once',
      params: PaymentId,
      response: RefundResponse,
      handler: ({ params }, { deps, idempotencyKey, signal }) =>
        refund(
          deps,
          params.id,
          idempotencyKey === undefined ? `natural:${params.id}` : requireIdempotencyKey(idempotencyKey),
          { signal },
        ),
    })
    .route({
      method: 'GET',
      path: '/payments',
      summary: "An order's payments with the charged and refunded sums",
      query: PaymentQuery,
      response: PaymentList,
      handler: ({ query }, { deps, user }) => paymentsOfOrder(deps.store.db, query.orderId, user?.id),
    });
  // Listings and the event bus's routes for operators and the chaos checker (platform/audit.ts).
  for (const route of [...paymentAuditRoutes(), ...busAdminRoutes<PaymentDeps>()]) service.route(route);
  return service;
}

/** The payment service as `main.ts` runs it. */
export const paymentService: Service<PaymentDeps> = createPaymentService();
