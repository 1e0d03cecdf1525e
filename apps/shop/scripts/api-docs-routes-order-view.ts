// The reference's entry for the order view, `GET /api/v2/orders/:id`: one answer the gateway
// composes from the order, payment, inventory and shipping services. Examples are real answers
// of the shop, one of them read while payment was down.
import * as inventoryApi from '../src/contracts/inventory-api.js';
import * as orderApi from '../src/contracts/order-api.js';
import * as paymentApi from '../src/contracts/payment-api.js';
import * as shippingApi from '../src/contracts/shipping-api.js';
import { contract, RequiredPartDetails, type RouteDoc } from './api-docs-model.js';
import { CANCELLED, cancelledOrder, confirmedOrder, ORDER } from './api-docs-routes-orders.js';

/** `GET /api/v2/orders/:id`: the aggregate. */
export const orderViewDoc: RouteDoc = {
  id: 'order-view',
  title: 'Get my order, with its payment, reservation and shipment',
  description:
    "One request, four services. The gateway first gets the order from the order service (it must exist and be the caller's), then asks payment, inventory and shipping at once about it, each within 2 s. A part whose service does not answer is replaced by `\"unavailable\"` and its status in `parts` says why; the answer is then still 200, with `cache-control: no-store` and `x-flotilla-partial` naming the failed parts. Each part's body is its service's own answer, documented by its contract (below); `parts` has one status per part (`AggregatePartStatus` of @flotilla/gateway).",
  params: contract(orderApi, 'order-api.ts', 'OrderParams'),
  response: {
    kind: 'aggregate',
    status: 200,
    parts: {
      order: contract(orderApi, 'order-api.ts', 'OrderView'),
      payment: contract(paymentApi, 'payment-api.ts', 'PaymentList'),
      reservation: contract(inventoryApi, 'inventory-api.ts', 'ReservationList'),
      shipment: contract(shippingApi, 'shipping-api.ts', 'ShipmentPage'),
    },
  },
  errors: [
    {
      status: 404,
      code: 'ORDER_NOT_FOUND',
      when: "no such order, or not the caller's",
      from: 'gateway',
      details: RequiredPartDetails,
    },
    {
      status: 502,
      code: 'BAD_GATEWAY',
      when: 'the order service failed with a 5xx (`details.code`, `details.upstreamStatus`)',
      from: 'gateway',
      details: RequiredPartDetails,
    },
    {
      status: 503,
      code: 'UPSTREAM_UNAVAILABLE',
      when: 'the order service cannot be reached',
      from: 'gateway',
      details: RequiredPartDetails,
    },
    {
      status: 503,
      code: 'BROKEN_CIRCUIT',
      when: "the gateway's circuit to the order service is open",
      from: 'gateway',
      details: RequiredPartDetails,
    },
    {
      status: 503,
      code: 'BULKHEAD_REJECTED',
      when: 'too many calls to the order service in flight',
      from: 'gateway',
      details: RequiredPartDetails,
    },
    {
      status: 504,
      code: 'TIMEOUT',
      when: 'the order service did not answer in time',
      from: 'gateway',
      details: RequiredPartDetails,
    },
  ],
  examples: [
    {
      title: 'A confirmed, shipped order',
      caller: 'customer',
      request: { params: { id: ORDER } },
      response: {
        status: 200,
        body: {
          order: confirmedOrder,
          payment: {
            items: [
              {
                paymentId: '11cbc409-1dff-4622-b833-3550de9474b2',
                orderId: ORDER,
                customerId: 'cus-0001',
                status: 'CAPTURED',
                amountMinor: 5070,
                chargedMinor: 5070,
                refundedMinor: 0,
                currency: 'EUR',
                declineReason: null,
                createdAt: '2026-11-27T07:46:56.489Z',
                updatedAt: '2026-11-27T07:46:56.489Z',
              },
            ],
            chargedMinor: 5070,
            refundedMinor: 0,
          },
          reservation: {
            items: [
              {
                reservationId: '2a067ec5-2018-4d22-97d5-563aa9a6ba94',
                orderId: ORDER,
                status: 'COMMITTED',
                items: [
                  { sku: 'BREW-002', quantity: 1 },
                  { sku: 'TEA-001', quantity: 2 },
                ],
                expiresAt: '2026-11-27T08:01:56.436Z',
                createdAt: '2026-11-27T07:46:56.436Z',
                updatedAt: '2026-11-27T07:46:56.706Z',
              },
            ],
          },
          shipment: {
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
          parts: {
            order: { status: 'ok' },
            payment: { status: 'ok' },
            reservation: { status: 'ok' },
            shipment: { status: 'ok' },
          },
        },
      },
    },
    {
      title: 'An order cancelled while payment was down, read while it still is',
      caller: 'customer',
      request: { params: { id: CANCELLED } },
      response: {
        status: 200,
        headers: { 'cache-control': 'no-store', 'x-flotilla-partial': 'payment' },
        body: {
          order: cancelledOrder,
          payment: 'unavailable',
          reservation: {
            items: [
              {
                reservationId: '2507d7a7-944d-4099-a4a1-33f3eda5a7da',
                orderId: CANCELLED,
                status: 'RELEASED',
                items: [{ sku: 'TEA-003', quantity: 1 }],
                expiresAt: '2026-11-27T08:02:27.252Z',
                createdAt: '2026-11-27T07:47:27.252Z',
                updatedAt: '2026-11-27T07:47:29.666Z',
              },
            ],
          },
          shipment: { items: [], nextCursor: null },
          parts: {
            order: { status: 'ok' },
            payment: {
              status: 'unavailable',
              code: 'BROKEN_CIRCUIT',
              message: 'payment is unavailable (circuit open)',
            },
            reservation: { status: 'ok' },
            shipment: { status: 'ok' },
          },
        },
      },
    },
    {
      title: 'An order that does not exist, or is not yours',
      caller: 'customer',
      request: { params: { id: '00000000-0000-4000-8000-000000000000' } },
      response: {
        status: 404,
        body: {
          error: {
            code: 'ORDER_NOT_FOUND',
            message:
              'required part "order" failed: order answered 404 ORDER_NOT_FOUND: no order 00000000-0000-4000-8000-000000000000',
            details: {
              route: 'order-view',
              part: 'order',
              service: 'order',
              status: 'not_found',
              code: 'ORDER_NOT_FOUND',
              upstreamStatus: 404,
            },
            retryable: false,
          },
        },
      },
    },
    {
      title: 'While the order service is down',
      caller: 'customer',
      request: { params: { id: ORDER } },
      response: {
        status: 503,
        body: {
          error: {
            code: 'BROKEN_CIRCUIT',
            message: 'required part "order" failed: order is unavailable (circuit open)',
            details: {
              route: 'order-view',
              part: 'order',
              service: 'order',
              status: 'unavailable',
              code: 'BROKEN_CIRCUIT',
            },
            retryable: true,
          },
        },
      },
    },
  ],
};
