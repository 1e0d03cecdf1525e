// Bad input at every public route of the gateway, end to end (not a test file itself; see
// embedded.e2e.test.ts): each answer is a 4xx in the standard error shape with no stack trace,
// nothing is written, and the shop keeps working afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { SignJWT } from 'jose';
import type { OrderPage } from '../contracts/order-api.js';
import { assertClientError, demoLogin, type Shop } from './shop-harness.js';

const MARGARET = demoLogin('margaret@example.com');
/** Has the catalog:write scope. */
const STAFF = demoLogin('staff@flotilla.shop');
/** An id no order has. */
const NO_ORDER = '00000000-0000-4000-8000-000000000000';

/** Who a request is made as. */
type As = 'customer' | 'staff' | 'nobody' | 'garbage' | 'forged' | 'expired' | 'alg-none';

/** One bad request and the answer it must get. */
interface Case {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly as?: As;
  /** JSON-encoded unless a string. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Adds a fresh Idempotency-Key. */
  readonly key?: boolean;
  readonly status: number;
  readonly code?: string;
}

const line = { sku: 'COF-003', quantity: 1 };
const order = { items: [line] };
/** Bigger than the gateway's 1 MiB body limit. */
const oversize = JSON.stringify({ items: [line], padding: 'x'.repeat(1_100_000) });

const cases: readonly Case[] = [
  // POST /api/login
  {
    what: 'login: malformed JSON',
    method: 'POST',
    path: '/api/login',
    body: '{"email":',
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    what: 'login: wrong types',
    method: 'POST',
    path: '/api/login',
    body: { email: 1, password: [] },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'login: missing fields',
    method: 'POST',
    path: '/api/login',
    body: {},
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'login: wrong password',
    method: 'POST',
    path: '/api/login',
    body: { email: MARGARET.email, password: 'nope' },
    status: 401,
    code: 'INVALID_CREDENTIALS',
  },
  {
    what: 'login: not JSON',
    method: 'POST',
    path: '/api/login',
    body: 'email=a',
    headers: { 'content-type': 'text/plain' },
    status: 415,
  },
  {
    what: 'login: oversize body',
    method: 'POST',
    path: '/api/login',
    body: oversize,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  // GET /api/v2/products, /api/v2/products/:sku
  {
    what: 'products: limit not a number',
    method: 'GET',
    path: '/api/v2/products?limit=abc',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'products: limit 0',
    method: 'GET',
    path: '/api/v2/products?limit=0',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'products: forged cursor',
    method: 'GET',
    path: '/api/v2/products?cursor=garbage',
    status: 400,
    code: 'INVALID_CURSOR',
  },
  { what: 'product: unknown SKU', method: 'GET', path: '/api/v2/products/NOPE-999', status: 404 },
  {
    what: 'product: malformed SKU',
    method: 'GET',
    path: '/api/v2/products/bad%20sku!',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  // POST /api/v2/orders
  {
    what: 'place: no token',
    method: 'POST',
    path: '/api/v2/orders',
    as: 'nobody',
    body: order,
    key: true,
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'place: garbage token',
    method: 'POST',
    path: '/api/v2/orders',
    as: 'garbage',
    body: order,
    key: true,
    status: 401,
    code: 'INVALID_TOKEN',
  },
  {
    what: 'place: token of another key',
    method: 'POST',
    path: '/api/v2/orders',
    as: 'forged',
    body: order,
    key: true,
    status: 401,
    code: 'INVALID_TOKEN',
  },
  {
    what: 'place: expired token',
    method: 'POST',
    path: '/api/v2/orders',
    as: 'expired',
    body: order,
    key: true,
    status: 401,
    code: 'TOKEN_EXPIRED',
  },
  {
    what: 'place: unsigned token',
    method: 'POST',
    path: '/api/v2/orders',
    as: 'alg-none',
    body: order,
    key: true,
    status: 401,
  },
  {
    what: 'place: malformed JSON',
    method: 'POST',
    path: '/api/v2/orders',
    body: '{"items": [',
    key: true,
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    what: 'place: items not an array',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: 'COF-003' },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: quantity a string',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [{ sku: 'COF-003', quantity: '1' }] },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: quantity 0',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [{ sku: 'COF-003', quantity: 0 }] },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: quantity 101',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [{ sku: 'COF-003', quantity: 101 }] },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: no items',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [] },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: a SKU twice',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [line, line] },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: a price from the client',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [{ ...line, unitPriceMinor: 1 }] },
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: body an array',
    method: 'POST',
    path: '/api/v2/orders',
    body: [line],
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: body null',
    method: 'POST',
    path: '/api/v2/orders',
    body: 'null',
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: no body',
    method: 'POST',
    path: '/api/v2/orders',
    key: true,
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'place: not JSON',
    method: 'POST',
    path: '/api/v2/orders',
    body: 'items=1',
    headers: { 'content-type': 'text/plain' },
    key: true,
    status: 415,
  },
  {
    what: 'place: no Idempotency-Key',
    method: 'POST',
    path: '/api/v2/orders',
    body: order,
    status: 400,
    code: 'IDEMPOTENCY_KEY_REQUIRED',
  },
  {
    what: 'place: empty Idempotency-Key',
    method: 'POST',
    path: '/api/v2/orders',
    body: order,
    headers: { 'idempotency-key': '' },
    status: 400,
    code: 'IDEMPOTENCY_KEY_REQUIRED',
  },
  {
    what: 'place: Idempotency-Key too long',
    method: 'POST',
    path: '/api/v2/orders',
    body: order,
    headers: { 'idempotency-key': 'k'.repeat(201) },
    status: 400,
    code: 'IDEMPOTENCY_KEY_INVALID',
  },
  {
    what: 'place: Idempotency-Key with a space',
    method: 'POST',
    path: '/api/v2/orders',
    body: order,
    headers: { 'idempotency-key': 'a b' },
    status: 400,
    code: 'IDEMPOTENCY_KEY_INVALID',
  },
  {
    what: 'place: unknown SKU',
    method: 'POST',
    path: '/api/v2/orders',
    body: { items: [{ sku: 'NOPE-001', quantity: 1 }] },
    key: true,
    status: 422,
    code: 'UNKNOWN_PRODUCT',
  },
  {
    what: 'place: oversize body',
    method: 'POST',
    path: '/api/v2/orders',
    body: oversize,
    key: true,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  // GET /api/v2/orders, /api/v2/orders/:id
  {
    what: 'list: no token',
    method: 'GET',
    path: '/api/v2/orders',
    as: 'nobody',
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'list: unknown status',
    method: 'GET',
    path: '/api/v2/orders?status=SHIPPED',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'list: limit too big',
    method: 'GET',
    path: '/api/v2/orders?limit=1000',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'list: forged cursor',
    method: 'GET',
    path: '/api/v2/orders?cursor=garbage',
    status: 400,
    code: 'INVALID_CURSOR',
  },
  {
    what: 'list: unknown parameter',
    method: 'GET',
    path: '/api/v2/orders?foo=1',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'view: no token',
    method: 'GET',
    path: `/api/v2/orders/${NO_ORDER}`,
    as: 'nobody',
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'view: unknown order',
    method: 'GET',
    path: `/api/v2/orders/${NO_ORDER}`,
    status: 404,
    code: 'ORDER_NOT_FOUND',
  },
  {
    what: 'view: malformed order id',
    method: 'GET',
    path: '/api/v2/orders/not-an-id',
    status: 404,
    code: 'ORDER_NOT_FOUND',
  },
  // GET /api/v2/inventory/:sku, /api/v2/notifications, /api/v2/shipments
  {
    what: 'inventory: unknown SKU',
    method: 'GET',
    path: '/api/v2/inventory/NOPE-999',
    status: 404,
    code: 'SKU_NOT_FOUND',
  },
  {
    what: 'inventory: malformed SKU',
    method: 'GET',
    path: '/api/v2/inventory/bad',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'notifications: no token',
    method: 'GET',
    path: '/api/v2/notifications',
    as: 'nobody',
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'notifications: limit not a number',
    method: 'GET',
    path: '/api/v2/notifications?limit=x',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'notifications: forged cursor',
    method: 'GET',
    path: '/api/v2/notifications?cursor=zzz',
    status: 400,
    code: 'INVALID_CURSOR',
  },
  {
    what: 'shipments: no token',
    method: 'GET',
    path: '/api/v2/shipments',
    as: 'nobody',
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'shipments: malformed order id',
    method: 'GET',
    path: '/api/v2/shipments?orderId=nope',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  // The monolith's v1 routes
  {
    what: 'v1 place: no token',
    method: 'POST',
    path: '/api/v1/orders',
    as: 'nobody',
    body: order,
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'v1 place: malformed JSON',
    method: 'POST',
    path: '/api/v1/orders',
    body: '{',
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    what: 'v1 place: wrong types',
    method: 'POST',
    path: '/api/v1/orders',
    body: { items: [{ sku: 5, quantity: 'a' }] },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'v1 place: unknown SKU',
    method: 'POST',
    path: '/api/v1/orders',
    body: { items: [{ sku: 'NOPE-001', quantity: 1 }] },
    status: 422,
    code: 'UNKNOWN_PRODUCT',
  },
  {
    what: 'v1 place: oversize body',
    method: 'POST',
    path: '/api/v1/orders',
    body: oversize,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    what: 'v1 view: unknown order',
    method: 'GET',
    path: '/api/v1/orders/nope',
    status: 404,
    code: 'ORDER_NOT_FOUND',
  },
  {
    what: 'v1 products: limit -1',
    method: 'GET',
    path: '/api/v1/products?limit=-1',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'v1 product: unknown SKU',
    method: 'GET',
    path: '/api/v1/products/NOPE-999',
    status: 404,
    code: 'PRODUCT_NOT_FOUND',
  },
  {
    what: 'admin: a customer without the scope',
    method: 'PUT',
    path: '/api/v1/admin/products/COF-003',
    body: { priceMinor: 100 },
    status: 403,
    code: 'INSUFFICIENT_SCOPE',
  },
  {
    what: 'admin: no token',
    method: 'PUT',
    path: '/api/v1/admin/products/COF-003',
    as: 'nobody',
    body: { priceMinor: 100 },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    what: 'admin: wrong types',
    method: 'PUT',
    path: '/api/v1/admin/products/COF-003',
    as: 'staff',
    body: { priceMinor: 'x' },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    what: 'admin: malformed JSON',
    method: 'PUT',
    path: '/api/v1/admin/products/COF-003',
    as: 'staff',
    body: '{',
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    what: 'admin: unknown SKU',
    method: 'PUT',
    path: '/api/v1/admin/products/NOPE-999',
    as: 'staff',
    body: { priceMinor: 100 },
    status: 404,
    code: 'PRODUCT_NOT_FOUND',
  },
  // Outside the routes
  { what: 'an unknown route', method: 'GET', path: '/api/v3/orders', status: 404, code: 'ROUTE_NOT_FOUND' },
  {
    what: 'a wrong method',
    method: 'DELETE',
    path: '/api/v2/orders',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
  },
  {
    what: 'a wrong method on login',
    method: 'GET',
    path: '/api/login',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
  },
  {
    what: 'the admin API without its token',
    method: 'GET',
    path: '/__admin/config',
    status: 401,
    code: 'UNAUTHENTICATED',
  },
];

/** Signs an end-user token as the legacy service does, with `key`, expiring at `exp` (epoch s). */
function userToken(key: string, exp: number): Promise<string> {
  return new SignJWT({ scope: 'orders:read orders:write' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('flotilla-shop')
    .setSubject('cus-0006')
    .setIssuedAt(exp - 3600)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(key));
}

/** Registers the scenarios, in the current `describe`, against the shop `shop()` returns. */
export function badInputScenarios(shop: () => Shop): void {
  it('answers bad input at every public route with a 4xx in the standard shape, and writes nothing', async () => {
    const s = shop();
    const customer = await s.login(MARGARET.email, MARGARET.password);
    const staff = await s.login(STAFF.email, STAFF.password);
    const now = Math.floor(Date.now() / 1000);
    const secret = s.running.secrets.FLOTILLA_JWT_SECRET;
    assert.ok(secret !== undefined);
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: 'flotilla-shop', sub: 'cus-0006', scope: 'orders:write', exp: now + 3600 }),
    ).toString('base64url')}.`;
    const tokens: Record<As, string | undefined> = {
      customer,
      staff,
      nobody: undefined,
      garbage: 'not.a.token',
      forged: await userToken('another-secret-of-at-least-32-characters!', now + 3600),
      expired: await userToken(secret, now - 3600),
      'alg-none': unsigned,
    };
    const list = async (): Promise<number> => {
      const res = await s.request<OrderPage>('GET', '/api/v2/orders?limit=100', { token: customer });
      assert.equal(res.status, 200, res.text);
      return res.body.items.length;
    };
    const ordersBefore = await list();
    const stockBefore = await s.available('COF-003');
    const restarts = (): string[] =>
      s.running.services.map((i) => `${i.service}[${i.instance}] ${i.restarts}`);
    const restartsBefore = restarts();

    for (const c of cases) {
      const token = tokens[c.as ?? 'customer'];
      const res = await s.request(c.method, c.path, {
        ...(token === undefined ? {} : { token }),
        ...(c.body === undefined ? {} : { body: c.body }),
        headers: { ...(c.key === true ? { 'idempotency-key': randomUUID() } : {}), ...c.headers },
      });
      assertClientError(res, { status: c.status, ...(c.code === undefined ? {} : { code: c.code }) }, c.what);
    }

    assert.equal(await list(), ordersBefore, 'a refused request placed an order');
    assert.equal(await s.available('COF-003'), stockBefore);
    assert.deepEqual(restarts(), restartsBefore, 'a service crashed on bad input');
  });

  it('keeps working after the bad input: every service ready, and an order confirms', async () => {
    const s = shop();
    const ready = await fetch(`${s.gatewayUrl}/health/ready`);
    assert.equal(ready.status, 200, await ready.text());
    for (const instance of s.running.services)
      assert.equal(instance.state, 'ready', `${instance.service}[${instance.instance}] is ${instance.state}`);
    const token = await s.login(MARGARET.email, MARGARET.password);
    const id = await s.placeOrder(token, [{ sku: 'COF-003', quantity: 1 }]);
    const view = await s.waitForOrder(token, id, (v) => v.order.status !== 'PENDING');
    assert.equal(view.order.status, 'CONFIRMED', JSON.stringify(view.order));
  });
}
