// The HTTP API of the payment service (a simulated card provider behind it): what the order saga,
// the gateway's order view and the chaos checker call. Nothing here belongs to another service.
import { z } from 'zod';
import { auditPage } from '../platform/audit.js';

/** ISO 4217 currency code; the shop's seed uses EUR only. */
export const Currency = z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code like EUR');

/**
 * `POST /payments` (header `Idempotency-Key` required): capture `amountMinor` for an order.
 * Demo rule: an amount whose last two digits are 13 (e.g. 1013, 2513) is always declined by the
 * simulated provider.
 */
export const ChargeRequest = z.object({
  orderId: z.string().min(1).max(100),
  customerId: z.string().min(1).max(100),
  amountMinor: z.number().int().min(1).max(100_000_000),
  currency: Currency,
});

/** A payment's state: CAPTURED (money taken), DECLINED (by the provider; nothing taken), REFUNDED. */
export const PaymentStatus = z.enum(['CAPTURED', 'DECLINED', 'REFUNDED']);

/** `POST /payments` → 201 when captured. */
export const ChargeResponse = z.object({
  paymentId: z.string().min(1),
  orderId: z.string().min(1),
  status: z.literal('CAPTURED'),
  amountMinor: z.number().int().positive(),
  currency: Currency,
});

/** `details` of a 402 `PAYMENT_DECLINED` (the declined payment is recorded; the same key answers the same). */
export const DeclineDetails = z.object({
  paymentId: z.string().min(1),
  /** `AMOUNT_RULE` (the demo rule: amount ending in 13) or `PROVIDER_DECLINED` (the configured decline rate). */
  reason: z.enum(['AMOUNT_RULE', 'PROVIDER_DECLINED']),
});

/** `POST /payments/:id/refund` → 200; a second refund answers the same and refunds nothing more. */
export const RefundResponse = z.object({
  paymentId: z.string().min(1),
  status: z.literal('REFUNDED'),
  refundedMinor: z.number().int().positive(),
});

/** A payment as `GET /payments?orderId=` lists it. */
export const Payment = z.object({
  paymentId: z.string().min(1),
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  status: PaymentStatus,
  amountMinor: z.number().int().positive(),
  /** What was captured: `amountMinor` for CAPTURED and REFUNDED payments, 0 for DECLINED ones. */
  chargedMinor: z.number().int().nonnegative(),
  refundedMinor: z.number().int().nonnegative(),
  currency: Currency,
  declineReason: DeclineDetails.shape.reason.nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

/** Query of `GET /payments`. */
export const PaymentQuery = z.object({ orderId: z.string().min(1).max(100) });

/** `GET /payments?orderId=` → the order's payments and their sums (money in = charged − refunded). */
export const PaymentList = z.object({
  items: z.array(Payment),
  chargedMinor: z.number().int().nonnegative(),
  refundedMinor: z.number().int().nonnegative(),
});

/**
 * Error codes of the payment API:
 * - 400 `VALIDATION_FAILED`, `IDEMPOTENCY_KEY_REQUIRED`
 * - 402 `PAYMENT_DECLINED` (not retryable; details {@link DeclineDetails})
 * - 404 `PAYMENT_NOT_FOUND`
 * - 409 `PAYMENT_NOT_REFUNDABLE` (a DECLINED payment)
 * - 422 `IDEMPOTENCY_KEY_REUSED` (the same key with a different request)
 * - 503 `PROVIDER_UNAVAILABLE` (retryable with the same key; nothing was recorded)
 */
export const PaymentErrorCode = z.enum([
  'IDEMPOTENCY_KEY_REQUIRED',
  'PAYMENT_DECLINED',
  'PAYMENT_NOT_FOUND',
  'PAYMENT_NOT_REFUNDABLE',
  'IDEMPOTENCY_KEY_REUSED',
  'PROVIDER_UNAVAILABLE',
]);

/** Inferred types. */
export type ChargeRequest = z.infer<typeof ChargeRequest>;
/** A payment as listed. */
export type Payment = z.infer<typeof Payment>;

/** `GET /audit/payments` (operators and the chaos checker): every payment, declined and refunded ones included. */
export const AuditPaymentPage = auditPage(Payment);
