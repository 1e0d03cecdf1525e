// The table docs/api.md is generated from: one entry per gateway route (route id → contract
// schemas, errors, examples), and the errors the gateway answers itself. The entries live in
// api-docs-routes-*.ts by the part of the shop they describe.
import type { GatewayErrors } from './api-docs-check.js';
import type { RouteDoc } from './api-docs-model.js';
import {
  adminProductDoc,
  loginDoc,
  productDoc,
  productsDoc,
  v1ProductDoc,
  v1ProductsDoc,
} from './api-docs-routes-catalog.js';
import { inventoryDoc, notificationsDoc, shipmentsDoc } from './api-docs-routes-fulfillment.js';
import { orderViewDoc } from './api-docs-routes-order-view.js';
import { ordersListDoc, ordersPlaceDoc, v1OrderDoc, v1OrdersPlaceDoc } from './api-docs-routes-orders.js';

/** Every documented route (the reference lists them in the gateway configuration's order). */
export const routeDocs: readonly RouteDoc[] = [
  loginDoc,
  productsDoc,
  productDoc,
  ordersPlaceDoc,
  ordersListDoc,
  orderViewDoc,
  inventoryDoc,
  notificationsDoc,
  shipmentsDoc,
  v1OrdersPlaceDoc,
  v1OrderDoc,
  v1ProductsDoc,
  v1ProductDoc,
  adminProductDoc,
];

/** What the gateway (@flotilla/gateway) answers itself, before or instead of an upstream. */
export const gatewayErrors: GatewayErrors = {
  authenticated: [
    { status: 401, code: 'UNAUTHENTICATED', when: 'no `Authorization: Bearer` token', from: 'gateway' },
    {
      status: 401,
      code: 'INVALID_TOKEN',
      when: 'a malformed token, a bad signature or issuer',
      from: 'gateway',
    },
    { status: 401, code: 'TOKEN_EXPIRED', when: 'the token has expired: log in again', from: 'gateway' },
    { status: 403, code: 'INSUFFICIENT_SCOPE', when: "the token lacks the route's scope", from: 'gateway' },
  ],
  common: [
    {
      status: 400,
      code: 'INVALID_PATH',
      when: 'a malformed request target (also `PATH_TRAVERSAL`, `BAD_PERCENT_ENCODING`, `ENCODED_SEPARATOR`)',
      from: 'gateway',
    },
    {
      status: 400,
      code: 'DUPLICATE_HEADER',
      when: 'a second `Host`, `Authorization` or differing `Content-Length` (also `INVALID_CONTENT_LENGTH`, `MISSING_HOST`)',
      from: 'gateway',
    },
    { status: 404, code: 'ROUTE_NOT_FOUND', when: 'no route has this path', from: 'gateway' },
    {
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      when: 'the path exists for other methods (`Allow` lists them)',
      from: 'gateway',
    },
    { status: 413, code: 'PAYLOAD_TOO_LARGE', when: 'a body over 1 MiB', from: 'gateway' },
    {
      status: 429,
      code: 'RATE_LIMITED',
      when: "the client's bucket is empty (`Retry-After` says when to retry)",
      from: 'gateway',
    },
    { status: 504, code: 'GATEWAY_TIMEOUT', when: 'the whole request took over 30 s', from: 'gateway' },
  ],
  proxied: [
    {
      status: 502,
      code: 'UPSTREAM_UNAVAILABLE',
      when: 'the service answering the route cannot be reached',
      from: 'gateway',
    },
    { status: 502, code: 'BAD_GATEWAY', when: 'the call to the service failed otherwise', from: 'gateway' },
    {
      status: 503,
      code: 'UPSTREAM_CIRCUIT_OPEN',
      when: 'the service failed 5 times in a row: the gateway stops calling it for 5 s (`Retry-After`)',
      from: 'gateway',
    },
    {
      status: 503,
      code: 'UPSTREAM_BUSY',
      when: '256 requests to the service already in flight',
      from: 'gateway',
    },
    { status: 503, code: 'UPSTREAM_ISOLATED', when: 'an operator took the service out', from: 'gateway' },
    { status: 503, code: 'UPSTREAM_NOT_FOUND', when: 'no instance of the service is known', from: 'gateway' },
    {
      status: 504,
      code: 'UPSTREAM_TIMEOUT',
      when: 'no answer within 5 s (idempotent requests are tried twice)',
      from: 'gateway',
    },
  ],
};
