// The HTTP API of the shipping service (its published language for synchronous callers: the
// gateway's order view, the chaos checker, the console). Nothing here belongs to another service.
import { z } from 'zod';

/** The simulated carriers; an order's carrier is chosen deterministically from its id. */
export const Carrier = z.enum(['PostFlotilla', 'ParcelHarbor', 'SwiftKeel']);

/** CREATED when the order is confirmed; DISPATCHED once the carrier picked it up. */
export const ShipmentStatus = z.enum(['CREATED', 'DISPATCHED']);

/** A shipment: one per confirmed order. */
export const ShipmentView = z.object({
  shipmentId: z.string().min(1),
  orderId: z.uuid(),
  customerId: z.string().min(1),
  carrier: Carrier,
  trackingNumber: z.string().min(1),
  status: ShipmentStatus,
  createdAt: z.iso.datetime(),
  /** When it was dispatched; null while CREATED. */
  dispatchedAt: z.iso.datetime().nullable(),
});

/**
 * Query of `GET /shipments`. With an end user in the service token, only that customer's
 * shipments are listed (`orderId` of another customer's order: an empty list); without one (the
 * chaos checker, the console) every shipment, paged.
 */
export const ShipmentQuery = z.strictObject({
  orderId: z.uuid().optional(),
  /** Page size. @default 50 */
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(200).optional(),
});

/** `GET /shipments` → a page, newest first; `nextCursor` is null on the last page. */
export const ShipmentPage = z.object({
  items: z.array(ShipmentView),
  nextCursor: z.string().nullable(),
});

/**
 * Error codes of the shipping API:
 * - 400 `VALIDATION_FAILED`, `INVALID_CURSOR`
 * - 401 `UNAUTHENTICATED` (no service token)
 */
export const ShippingErrorCode = z.enum(['VALIDATION_FAILED', 'INVALID_CURSOR', 'UNAUTHENTICATED']);

/** A shipment as the API shows it. */
export type ShipmentView = z.infer<typeof ShipmentView>;
/** A page of shipments. */
export type ShipmentPage = z.infer<typeof ShipmentPage>;
/** One of the simulated carriers. */
export type Carrier = z.infer<typeof Carrier>;
