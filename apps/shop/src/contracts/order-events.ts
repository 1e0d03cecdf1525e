// Events published by the order service (its published language). Consumers import from here;
// nothing in this file belongs to another service.
import { defineEvent } from '@flotilla/events';
import { z } from 'zod';

/** A line of an order. */
export const OrderLine = z.object({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  unitPriceMinor: z.number().int().nonnegative(),
});

/** An order was accepted (PENDING); its fulfillment saga has started. */
export const OrderCreated = defineEvent('OrderCreated', {
  version: 1,
  schema: z.object({
    orderId: z.uuid(),
    customerId: z.string().min(1),
    items: z.array(OrderLine).min(1),
    totalMinor: z.number().int().nonnegative(),
    currency: z.string().length(3),
  }),
});

/** Stock is reserved and the payment captured: the order is CONFIRMED. */
export const OrderConfirmed = defineEvent('OrderConfirmed', {
  version: 1,
  schema: z.object({
    orderId: z.uuid(),
    customerId: z.string().min(1),
    items: z.array(OrderLine).min(1),
    totalMinor: z.number().int().nonnegative(),
    currency: z.string().length(3),
    reservationId: z.string().min(1),
    paymentId: z.string().min(1),
  }),
});

/** Why an order was cancelled. */
export const CancellationReason = z.enum([
  'OUT_OF_STOCK',
  'PAYMENT_DECLINED',
  'PAYMENT_UNAVAILABLE',
  'INVENTORY_UNAVAILABLE',
  'UNKNOWN_PRODUCT',
  'DEADLINE_EXCEEDED',
  'FAILED',
]);

/** The fulfillment failed and every completed step was compensated: the order is CANCELLED. */
export const OrderCancelled = defineEvent('OrderCancelled', {
  version: 1,
  schema: z.object({
    orderId: z.uuid(),
    customerId: z.string().min(1),
    reason: CancellationReason,
    detail: z.string().max(500).optional(),
  }),
});
