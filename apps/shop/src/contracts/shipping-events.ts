// Events published by the shipping service.
import { defineEvent } from '@flotilla/events';
import { z } from 'zod';

/** A shipment was created for a confirmed order (the stock it carries leaves the warehouse). */
export const ShipmentCreated = defineEvent('ShipmentCreated', {
  version: 1,
  schema: z.object({
    shipmentId: z.string().min(1),
    orderId: z.uuid(),
    customerId: z.string().min(1),
    carrier: z.string().min(1),
    trackingNumber: z.string().min(1),
  }),
});

/** The carrier picked the shipment up. */
export const ShipmentDispatched = defineEvent('ShipmentDispatched', {
  version: 1,
  schema: z.object({
    shipmentId: z.string().min(1),
    orderId: z.uuid(),
    customerId: z.string().min(1),
    carrier: z.string().min(1),
    trackingNumber: z.string().min(1),
    dispatchedAt: z.iso.datetime(),
  }),
});
