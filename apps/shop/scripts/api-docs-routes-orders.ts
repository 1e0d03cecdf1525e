// The reference's entries for the order routes: the order service's v2 routes and the
// monolith's v1 orders (the order view, aggregated by the gateway, is in
// api-docs-routes-order-view.ts). Examples are real answers of the shop, shortened.
import { z } from 'zod';
import * as legacyApi from '../src/contracts/legacy-api.js';
import * as orderApi from '../src/contracts/order-api.js';
import { contract, type RouteDoc, ValidationDetails } from './api-docs-model.js';

export const ORDER = '4f3e585c-07cb-4c0a-825b-9e64f6b27208';
export const CANCELLED = '9fc0cff5-61ac-451f-a216-6aa805d22d8f';

export const confirmedOrder = {
  id: ORDER,
  customerId: 'cus-0001',
  status: 'CONFIRMED',
  items: [
    { sku: 'TEA-001', quantity: 2, unitPriceMinor: 1290 },
    { sku: 'BREW-002', quantity: 1, unitPriceMinor: 2490 },
  ],
  totalMinor: 5070,
  currency: 'EUR',
  createdAt: '2026-11-27T07:46:56.365Z',
  updatedAt: '2026-11-27T07:46:56.567Z',
};

export const cancelledOrder = {
  id: CANCELLED,
  customerId: 'cus-0001',
  status: 'CANCELLED',
  reason: 'PAYMENT_UNAVAILABLE',
  items: [{ sku: 'TEA-003', quantity: 1, unitPriceMinor: 1590 }],
  totalMinor: 1590,
  currency: 'EUR',
  createdAt: '2026-11-27T07:47:27.228Z',
  updatedAt: '2026-11-27T07:47:29.671Z',
};

const v1Order = {
  id: '5fe79e34-e755-40f9-8271-824c3850bf77',
  customerId: 'cus-0001',
  status: 'CONFIRMED',
  items: [{ sku: 'TEA-002', quantity: 1, unitPriceMinor: 2450 }],
  totalMinor: 2450,
  currency: 'EUR',
  paymentId: '1f627cce-2589-442a-af47-d26f053babeb',
  createdAt: '2026-11-27T07:47:04.904Z',
};

const idempotencyKey = {
  name: 'Idempotency-Key',
  required: true,
  description:
    '1 to 200 visible ASCII characters, unique per order you mean to place: the same key (per customer) with the same items answers the first answer again, with other items 409.',
};

/** `POST /api/v2/orders`. */
export const ordersPlaceDoc: RouteDoc = {
  id: 'orders-place',
  title: 'Place an order',
  description:
    'Accepts an order and answers at once with 202 and the order `PENDING`: one transaction writes the order, starts its fulfillment saga and publishes `OrderCreated`. The saga then reserves the stock, takes the payment and confirms the order (`CONFIRMED`), or compensates what it did and cancels it (`CANCELLED` with a `reason`). Follow it with `GET /api/v2/orders/:id`. Prices come from the catalogue, never from the client.',
  headers: [idempotencyKey],
  body: contract(orderApi, 'order-api.ts', 'PlaceOrderRequest', { notes: { items: 'distinct SKUs' } }),
  response: { kind: 'contract', status: 202, body: contract(orderApi, 'order-api.ts', 'OrderAccepted') },
  serviceErrorCodes: orderApi.OrderErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'a malformed body, unknown fields, a SKU twice',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED', when: 'no `Idempotency-Key` header', from: 'service' },
    {
      status: 400,
      code: 'IDEMPOTENCY_KEY_INVALID',
      when: 'the key is empty, longer than 200 or not visible ASCII',
      from: 'service',
    },
    {
      status: 409,
      code: 'IDEMPOTENCY_KEY_REUSED',
      when: 'the key was used for an order with other items (`details.orderId` names it)',
      from: 'service',
      details: z.object({ orderId: z.uuid() }),
    },
    {
      status: 422,
      code: 'UNKNOWN_PRODUCT',
      when: 'a SKU the catalogue does not sell (`details.skus`); nothing is written',
      from: 'service',
      details: z.object({ skus: z.array(z.string()).min(1) }),
    },
    {
      status: 422,
      code: 'MIXED_CURRENCIES',
      when: 'the products are priced in different currencies',
      from: 'service',
    },
    {
      status: 503,
      code: 'UPSTREAM_UNAVAILABLE',
      when: 'the catalogue (legacy) cannot be reached to price the order',
      from: 'service',
    },
    {
      status: 503,
      code: 'BROKEN_CIRCUIT',
      when: "the order service's circuit to the catalogue is open",
      from: 'service',
    },
    { status: 504, code: 'TIMEOUT', when: 'the catalogue did not answer in time', from: 'service' },
  ],
  examples: [
    {
      title: 'Two lines',
      caller: 'customer',
      request: {
        headers: { 'idempotency-key': 'doc-order-1' },
        body: {
          items: [
            { sku: 'TEA-001', quantity: 2 },
            { sku: 'BREW-002', quantity: 1 },
          ],
        },
      },
      response: { status: 202, body: { orderId: ORDER, status: 'PENDING' } },
    },
    {
      title: 'The same key with other items',
      caller: 'customer',
      request: {
        headers: { 'idempotency-key': 'doc-order-1' },
        body: { items: [{ sku: 'TEA-001', quantity: 3 }] },
      },
      response: {
        status: 409,
        body: {
          error: {
            code: 'IDEMPOTENCY_KEY_REUSED',
            message: 'this Idempotency-Key was already used for an order with other items',
            details: { orderId: ORDER },
            retryable: false,
          },
        },
      },
    },
    {
      title: 'No Idempotency-Key',
      caller: 'customer',
      request: { body: { items: [{ sku: 'TEA-001', quantity: 3 }] } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'IDEMPOTENCY_KEY_REQUIRED',
            message: 'the Idempotency-Key header is required',
            retryable: false,
          },
        },
      },
    },
    {
      title: 'A product the shop does not sell',
      caller: 'customer',
      request: {
        headers: { 'idempotency-key': 'doc-order-x' },
        body: { items: [{ sku: 'NOPE-001', quantity: 3 }] },
      },
      response: {
        status: 422,
        body: {
          error: {
            code: 'UNKNOWN_PRODUCT',
            message: 'unknown product(s): NOPE-001',
            details: { skus: ['NOPE-001'] },
            retryable: false,
          },
        },
      },
    },
    {
      title: 'A quantity of 0',
      caller: 'customer',
      request: {
        headers: { 'idempotency-key': 'doc-order-y' },
        body: { items: [{ sku: 'TEA-001', quantity: 0 }] },
      },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'body.items.0.quantity: Too small: expected number to be >=1',
            details: [
              {
                location: 'body',
                field: 'items.0.quantity',
                code: 'too_small',
                message: 'Too small: expected number to be >=1',
              },
            ],
            retryable: false,
          },
        },
      },
    },
    {
      title: 'Without a token',
      caller: 'anonymous',
      request: {
        headers: { 'idempotency-key': 'doc-order-z' },
        body: { items: [{ sku: 'TEA-001', quantity: 1 }] },
      },
      response: {
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="flotilla"' },
        body: { error: { code: 'UNAUTHENTICATED', message: 'a bearer token is required', retryable: false } },
      },
    },
    {
      title: 'While the catalogue (legacy) is down',
      caller: 'customer',
      request: {
        headers: { 'idempotency-key': 'doc-legacy-down-2' },
        body: { items: [{ sku: 'TEA-003', quantity: 1 }] },
      },
      response: {
        status: 503,
        body: {
          error: {
            code: 'BROKEN_CIRCUIT',
            message: 'a dependency is unavailable (circuit open)',
            retryable: true,
          },
        },
      },
    },
  ],
};

/** `GET /api/v2/orders`. */
export const ordersListDoc: RouteDoc = {
  id: 'orders-list',
  title: 'List my orders',
  description: "The caller's own orders, newest first, optionally of one status.",
  query: contract(orderApi, 'order-api.ts', 'OrderListQuery', {
    notes: { cursor: '`nextCursor` of the previous page' },
  }),
  response: { kind: 'contract', status: 200, body: contract(orderApi, 'order-api.ts', 'OrderPage') },
  serviceErrorCodes: orderApi.OrderErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'a bad `status` or `limit`, an unknown parameter',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 400, code: 'INVALID_CURSOR', when: '`cursor` is not one the shop returned', from: 'service' },
  ],
  examples: [
    {
      title: 'The two latest orders',
      caller: 'customer',
      request: { query: { limit: '2' } },
      response: {
        status: 200,
        body: {
          items: [cancelledOrder, confirmedOrder],
          nextCursor: 'WzE3OTU3NjU2MTYzNjUsIjRmM2U1ODVjLTA3Y2ItNGMwYS04MjViLTllNjRmNmIyNzIwOCJd',
        },
      },
    },
    {
      title: 'An unknown status',
      caller: 'customer',
      request: { query: { status: 'X' } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'query.status: Invalid option: expected one of "PENDING"|"CONFIRMED"|"CANCELLED"',
            details: [
              {
                location: 'query',
                field: 'status',
                code: 'invalid_value',
                message: 'Invalid option: expected one of "PENDING"|"CONFIRMED"|"CANCELLED"',
              },
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
      response: {
        status: 400,
        body: {
          error: {
            code: 'INVALID_CURSOR',
            message: 'cursor is not a cursor this service returned',
            retryable: false,
          },
        },
      },
    },
  ],
};

/** `POST /api/v1/orders`. */
export const v1OrdersPlaceDoc: RouteDoc = {
  id: 'v1-orders-place',
  title: 'Place an order (v1, monolith)',
  description:
    "The monolith's order: stock, payment and order in one database transaction, answered when done (`CONFIRMED`), or not at all: on any error nothing is kept. No Idempotency-Key; a payment whose total ends in 13 minor units is declined (the demo rule).",
  body: contract(legacyApi, 'legacy-api.ts', 'V1OrderRequest'),
  response: { kind: 'contract', status: 201, body: contract(legacyApi, 'legacy-api.ts', 'V1Order') },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'a malformed body',
      from: 'service',
      details: ValidationDetails,
    },
    {
      status: 402,
      code: 'PAYMENT_DECLINED',
      when: 'the total ends in 13 minor units (e.g. 10.13 EUR)',
      from: 'service',
    },
    {
      status: 409,
      code: 'OUT_OF_STOCK',
      when: 'not enough stock (`details.shortages`)',
      from: 'service',
      details: z.object({
        shortages: z
          .array(z.object({ sku: z.string(), requested: z.number().int(), available: z.number().int() }))
          .min(1),
      }),
    },
    {
      status: 422,
      code: 'UNKNOWN_PRODUCT',
      when: 'a SKU the monolith does not sell (`details.skus`)',
      from: 'service',
      details: z.object({ skus: z.array(z.string()).min(1) }),
    },
  ],
  examples: [
    {
      title: 'One line',
      caller: 'customer',
      request: { body: { items: [{ sku: 'TEA-002', quantity: 1 }] } },
      response: { status: 201, body: v1Order },
    },
    {
      title: 'A total of 10.13 EUR',
      caller: 'customer',
      request: { body: { items: [{ sku: 'GIFT-013', quantity: 1 }] } },
      response: {
        status: 402,
        body: {
          error: {
            code: 'PAYMENT_DECLINED',
            message: 'the payment of 10.13 EUR was declined',
            retryable: false,
          },
        },
      },
    },
    {
      title: 'More than the stock',
      caller: 'customer',
      request: { body: { items: [{ sku: 'TEA-012', quantity: 50 }] } },
      response: {
        status: 409,
        body: {
          error: {
            code: 'OUT_OF_STOCK',
            message: 'not enough stock of TEA-012',
            details: { shortages: [{ sku: 'TEA-012', requested: 50, available: 3 }] },
            retryable: false,
          },
        },
      },
    },
    {
      title: 'No lines',
      caller: 'customer',
      request: { body: { items: [] } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'body.items: Too small: expected array to have >=1 items',
            details: [
              {
                location: 'body',
                field: 'items',
                code: 'too_small',
                message: 'Too small: expected array to have >=1 items',
              },
            ],
            retryable: false,
          },
        },
      },
    },
  ],
};

/** `GET /api/v1/orders/:id`. */
export const v1OrderDoc: RouteDoc = {
  id: 'v1-order',
  title: 'Get my order (v1, monolith)',
  description: "One of the caller's v1 orders; anyone else's is a 404.",
  params: {
    schema: z.object({ id: z.string().min(1).max(100) }),
    name: '{ id }',
    file: 'services/legacy/service.ts',
  },
  response: { kind: 'contract', status: 200, body: contract(legacyApi, 'legacy-api.ts', 'V1Order') },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: [
    { status: 404, code: 'ORDER_NOT_FOUND', when: "no such v1 order, or not the caller's", from: 'service' },
  ],
  examples: [
    {
      title: 'The order placed above',
      caller: 'customer',
      request: { params: { id: v1Order.id } },
      response: { status: 200, body: v1Order },
    },
    {
      title: 'An unknown order',
      caller: 'customer',
      request: { params: { id: 'nope' } },
      response: {
        status: 404,
        body: { error: { code: 'ORDER_NOT_FOUND', message: 'no order nope', retryable: false } },
      },
    },
  ],
};
