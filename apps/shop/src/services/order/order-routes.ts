// The order service's public routes (behind the gateway's /api/v2/orders).
import { type AnyRoute, defineRoute, type RequestContext, ServiceError } from '@flotilla/service';
import {
  OrderAccepted,
  OrderListQuery,
  OrderPage,
  OrderParams,
  OrderView,
  PlaceOrderRequest,
} from '../../contracts/order-api.js';
import type { OrderDeps } from './order-deps.js';
import { getOrder, listOrders } from './order-view.js';
import { placeOrder } from './place-order.js';

const route = defineRoute<OrderDeps>();

/** The end user the request is made for; 401 `UNAUTHENTICATED` when the service token carries none. */
function customerOf(ctx: RequestContext<OrderDeps>): string {
  const user = ctx.user;
  if (user === undefined)
    throw new ServiceError(401, 'UNAUTHENTICATED', 'orders are placed and read on behalf of an end user', {
      retryable: false,
    });
  return user.id;
}

/** `POST /orders`, `GET /orders/:id`, `GET /orders`. */
export const orderRoutes: readonly AnyRoute<OrderDeps>[] = [
  route({
    method: 'POST',
    path: '/orders',
    summary:
      'Place an order (Idempotency-Key required): 202 PENDING; 400, 401, 409 IDEMPOTENCY_KEY_REUSED, 422 UNKNOWN_PRODUCT.',
    status: 202,
    body: PlaceOrderRequest,
    response: OrderAccepted,
    handler: ({ body }, ctx) =>
      placeOrder(ctx.deps, {
        customerId: customerOf(ctx),
        idempotencyKey: ctx.idempotencyKey,
        items: body.items,
        catalogue: ctx.client('legacy'),
        trace: ctx.trace,
        signal: ctx.signal,
      }),
  }),
  route({
    method: 'GET',
    path: '/orders/:id',
    summary: "One of the caller's orders; 404 ORDER_NOT_FOUND for anyone else's.",
    params: OrderParams,
    response: OrderView,
    handler: ({ params }, ctx) => getOrder(ctx.deps.store.db, params.id, customerOf(ctx)),
  }),
  route({
    method: 'GET',
    path: '/orders',
    summary: "The caller's orders, newest first (status, limit, cursor).",
    query: OrderListQuery,
    response: OrderPage,
    handler: ({ query }, ctx) => listOrders(ctx.deps.store.db, customerOf(ctx), query),
  }),
];
