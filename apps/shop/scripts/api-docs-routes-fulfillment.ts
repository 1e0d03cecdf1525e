// The reference's entries for what happens after an order: stock (inventory), the emails
// (notification) and the parcels (shipping). Examples are real answers of the shop, shortened.
import { z } from 'zod';
import * as inventoryApi from '../src/contracts/inventory-api.js';
import * as notificationApi from '../src/contracts/notification-api.js';
import * as shippingApi from '../src/contracts/shipping-api.js';
import { contract, type RouteDoc, ValidationDetails } from './api-docs-model.js';

const ORDER = '4f3e585c-07cb-4c0a-825b-9e64f6b27208';

const invalidCursor = {
  status: 400,
  body: {
    error: {
      code: 'INVALID_CURSOR',
      message: 'cursor is not a cursor this service returned',
      retryable: false,
    },
  },
} as const;

/** `GET /api/v2/inventory/:sku`. */
export const inventoryDoc: RouteDoc = {
  id: 'inventory',
  title: 'Stock of a product',
  description:
    'Units that can be sold now (`available`) and units held by reservations of orders not yet shipped (`reserved`), from the inventory service.',
  params: { schema: z.object({ sku: inventoryApi.Sku }), name: '{ sku: Sku }', file: 'inventory-api.ts' },
  response: { kind: 'contract', status: 200, body: contract(inventoryApi, 'inventory-api.ts', 'StockLevel') },
  serviceErrorCodes: inventoryApi.InventoryErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'the SKU does not look like `TEA-001`',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 404, code: 'SKU_NOT_FOUND', when: 'no stock is kept for this SKU', from: 'service' },
  ],
  examples: [
    {
      title: 'A SKU in stock',
      caller: 'anonymous',
      request: { params: { sku: 'TEA-001' } },
      response: { status: 200, body: { sku: 'TEA-001', available: 394, reserved: 0 } },
    },
    {
      title: 'An unknown SKU',
      caller: 'anonymous',
      request: { params: { sku: 'TEA-999' } },
      response: {
        status: 404,
        body: {
          error: {
            code: 'SKU_NOT_FOUND',
            message: 'no stock is kept for TEA-999',
            details: { sku: 'TEA-999' },
            retryable: false,
          },
        },
      },
    },
  ],
};

/** `GET /api/v2/notifications`. */
export const notificationsDoc: RouteDoc = {
  id: 'notifications',
  title: 'My notifications',
  description:
    "The emails the shop sent the caller (kept in a local mail sink; nothing is really sent), newest first: one per order and kind (`ORDER_CONFIRMED`, `ORDER_CANCELLED`, `SHIPMENT_DISPATCHED`). Another customer's `orderId` gives an empty list, never a 404.",
  query: contract(notificationApi, 'notification-api.ts', 'NotificationQuery', {
    notes: { cursor: '`nextCursor` of the previous page' },
  }),
  response: {
    kind: 'contract',
    status: 200,
    body: contract(notificationApi, 'notification-api.ts', 'NotificationPage'),
  },
  serviceErrorCodes: notificationApi.NotificationErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'a bad `limit`, an unknown parameter',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 400, code: 'INVALID_CURSOR', when: '`cursor` is not one the shop returned', from: 'service' },
  ],
  examples: [
    {
      title: "An order's emails",
      caller: 'customer',
      request: { query: { orderId: ORDER } },
      response: {
        status: 200,
        body: {
          items: [
            {
              notificationId: 'cfa2aaa2-2541-458b-a51d-b240bcb97bd9',
              orderId: ORDER,
              customerId: 'cus-0001',
              kind: 'SHIPMENT_DISPATCHED',
              channel: 'email',
              subject: 'Your order 4f3e585c is on its way',
              body: `Your order ${ORDER} was handed to PostFlotilla on 2026-11-27.\n\nTracking number: PF442466458660`,
              eventId: 'shipment:f0c83d52-4bf8-47cc-bbe0-0f187e63dc1b:dispatched',
              createdAt: '2026-11-27T07:46:58.843Z',
            },
            {
              notificationId: '36221e57-2db7-45cf-86dd-8aa1c9227ef6',
              orderId: ORDER,
              customerId: 'cus-0001',
              kind: 'ORDER_CONFIRMED',
              channel: 'email',
              subject: 'Your order 4f3e585c is confirmed',
              body: `Thank you for your order. Your payment was received and your items are set aside.\n\nOrder ${ORDER}\n  2 × TEA-001 at €12.90\n  1 × BREW-002 at €24.90\nTotal: €50.70\n\nWe will write again when it ships.`,
              eventId: `${ORDER}:confirm_order`,
              createdAt: '2026-11-27T07:46:56.750Z',
            },
          ],
          nextCursor: null,
        },
      },
    },
    {
      title: 'An unknown parameter',
      caller: 'customer',
      request: { query: { foo: '1' } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'query: Unrecognized key: "foo"',
            details: [
              { location: 'query', field: '', code: 'unrecognized_keys', message: 'Unrecognized key: "foo"' },
            ],
            retryable: false,
          },
        },
      },
    },
    {
      title: 'A cursor the shop did not hand out',
      caller: 'customer',
      request: { query: { cursor: 'zz' } },
      response: invalidCursor,
    },
    {
      title: 'While the notification service is down, after its first failures',
      caller: 'customer',
      request: {},
      response: {
        status: 503,
        headers: { 'retry-after': '5' },
        body: {
          error: {
            code: 'UPSTREAM_CIRCUIT_OPEN',
            message: 'notification is failing; the gateway stopped calling it for a while (circuit open)',
            retryable: true,
          },
        },
      },
    },
  ],
};

/** `GET /api/v2/shipments`. */
export const shipmentsDoc: RouteDoc = {
  id: 'shipments',
  title: 'My shipments',
  description:
    "The caller's shipments, newest first: one per confirmed order, `CREATED` when the order is confirmed and `DISPATCHED` once the (simulated) carrier picked it up, 2 s later by default. Another customer's `orderId` gives an empty list.",
  query: contract(shippingApi, 'shipping-api.ts', 'ShipmentQuery', {
    notes: { cursor: '`nextCursor` of the previous page' },
  }),
  response: { kind: 'contract', status: 200, body: contract(shippingApi, 'shipping-api.ts', 'ShipmentPage') },
  serviceErrorCodes: shippingApi.ShippingErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'an `orderId` that is not a UUID, a bad `limit`, an unknown parameter',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 400, code: 'INVALID_CURSOR', when: '`cursor` is not one the shop returned', from: 'service' },
  ],
  examples: [
    {
      title: "An order's shipment",
      caller: 'customer',
      request: { query: { orderId: ORDER } },
      response: {
        status: 200,
        body: {
          items: [
            {
              shipmentId: 'f0c83d52-4bf8-47cc-bbe0-0f187e63dc1b',
              orderId: ORDER,
              customerId: 'cus-0001',
              carrier: 'PostFlotilla',
              trackingNumber: 'PF442466458660',
              status: 'DISPATCHED',
              createdAt: '2026-11-27T07:46:56.676Z',
              dispatchedAt: '2026-11-27T07:46:58.829Z',
            },
          ],
          nextCursor: null,
        },
      },
    },
    {
      title: 'An orderId that is not a UUID',
      caller: 'customer',
      request: { query: { orderId: 'abc' } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'query.orderId: Invalid UUID',
            details: [
              { location: 'query', field: 'orderId', code: 'invalid_format', message: 'Invalid UUID' },
            ],
            retryable: false,
          },
        },
      },
    },
  ],
};
