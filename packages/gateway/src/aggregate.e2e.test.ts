import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { serviceTokens } from '@flotilla/service';
import { request } from 'undici';
import {
  deadUrl,
  hsToken,
  startTestGateway,
  startUpstream,
  TEST_SECRET,
  TEST_SERVICE_KEY,
} from './gateway.test-helpers.js';

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function setup(t: { after: (fn: () => unknown) => void }, options: { orderDown?: boolean } = {}) {
  const order = await startUpstream((req, res) =>
    json(
      res,
      200,
      { id: req.url?.split('/').at(-1), customerId: 'c-9', total: 42 },
      { 'cache-control': 'max-age=60' },
    ),
  );
  t.after(() => order.close());
  const customers = await startUpstream((req, res) =>
    json(res, 200, { id: req.url?.split('/').at(-1), name: 'Ada' }),
  );
  t.after(() => customers.close());
  const shipping = await startUpstream((_req, res) => {
    const timer = setTimeout(() => json(res, 200, { status: 'late' }), 5_000);
    res.on('close', () => clearTimeout(timer));
  });
  t.after(() => shipping.close());
  const inventory = await startUpstream((_req, res) =>
    json(res, 500, { error: { code: 'STOCK_DB_DOWN', message: 'database down', retryable: true } }),
  );
  t.after(() => inventory.close());
  const gw = await startTestGateway(
    {
      auth: { jwt: { secret: TEST_SECRET } },
      upstreams: { inventory: { maxAttempts: 1 } },
      routes: [
        {
          id: 'order-view',
          match: { path: '/orders/:id/view', method: 'GET' },
          aggregate: {
            parts: {
              order: {
                service: 'order',
                path: '/orders/:id',
                required: true,
                passHeaders: ['cache-control'],
              },
              customer: { service: 'customer', path: '/customers/{{order.customerId}}' },
              payment: {
                service: 'payment',
                path: '/payments/by-order/:id',
                fallback: { status: 'unknown' },
              },
              shipment: { service: 'shipping', path: '/shipments/:id', timeoutMs: 200 },
              stock: { service: 'inventory', path: '/reservations/:id' },
            },
          },
        },
      ],
    },
    {
      order: [options.orderDown === true ? await deadUrl() : order.url],
      customer: [customers.url],
      payment: [await deadUrl()],
      shipping: [shipping.url],
      inventory: [inventory.url],
    },
    { serviceKey: TEST_SERVICE_KEY },
  );
  t.after(() => gw.close());
  const token = await hsToken(TEST_SECRET, { sub: 'ada', scope: 'orders:read' });
  return { gw, order, customers, token };
}

describe('aggregate routes through the gateway', () => {
  it('merges the parts and reports the ones down, slow and failing', { timeout: 30_000 }, async (t) => {
    const { gw, order, customers, token } = await setup(t);
    const res = await request(`${gw.url}/orders/o%2D1/view`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-flotilla-partial'], 'payment,shipment,stock');
    const body = (await res.body.json()) as Record<string, unknown> & {
      parts: Record<string, { status: string; code?: string; upstreamStatus?: number }>;
    };
    assert.deepEqual(body.order, { id: 'o-1', customerId: 'c-9', total: 42 });
    assert.deepEqual(body.customer, { id: 'c-9', name: 'Ada' });
    assert.deepEqual(body.payment, { status: 'unknown' });
    assert.equal(body.shipment, null);
    assert.equal(body.stock, null);
    assert.deepEqual(body.parts.order, { status: 'ok' });
    assert.deepEqual(body.parts.customer, { status: 'ok' });
    assert.equal(body.parts.payment?.status, 'unavailable');
    assert.equal(body.parts.shipment?.status, 'timeout');
    assert.equal(body.parts.stock?.status, 'error');
    assert.equal(body.parts.stock?.code, 'STOCK_DB_DOWN');
    assert.equal(body.parts.stock?.upstreamStatus, 500);
    // Each part got a service token for its own service, with the user inside.
    const seen = order.requests.at(-1);
    assert.equal(seen?.url, '/orders/o-1');
    const identity = await serviceTokens({ service: 'order', key: TEST_SERVICE_KEY }).verify(
      String(seen?.headers.authorization).slice(7),
    );
    assert.deepEqual(identity.user, { id: 'ada', scopes: ['orders:read'] });
    const customerIdentity = await serviceTokens({ service: 'customer', key: TEST_SERVICE_KEY }).verify(
      String(customers.requests.at(-1)?.headers.authorization).slice(7),
    );
    assert.equal(customerIdentity.user?.id, 'ada');
  });

  it('fails with 503 in the standard shape when a required part is down', { timeout: 30_000 }, async (t) => {
    const { gw, token } = await setup(t, { orderDown: true });
    const res = await request(`${gw.url}/orders/o-1/view`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '1');
    const body = (await res.body.json()) as {
      error: { code: string; retryable: boolean; details: { part: string } };
    };
    assert.equal(body.error.retryable, true);
    assert.equal(body.error.details.part, 'order');
  });
});
