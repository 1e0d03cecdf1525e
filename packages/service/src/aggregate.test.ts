import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { manualClock, TimeoutError } from '@flotilla/resilience';
import { aggregate } from './aggregate.js';
import { createClients } from './client.js';
import { fail, freePort, json, startServer, type TestServer, until } from './client.test-helpers.js';
import { discovery } from './discovery.js';
import { UpstreamError } from './upstream-error.js';

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

interface Order {
  readonly id: string;
  readonly status: string;
}

describe('aggregate', () => {
  it('reports each part: one up, one down, one slow, one missing', async (t) => {
    const clock = manualClock();
    const order = await server((_req, res) => json(res, 200, { id: 'o1', status: 'CONFIRMED' }));
    const shipping = await server(() => {}); // never answers
    const inventory = await server((_req, res) => fail(res, 404, 'RESERVATION_NOT_FOUND'));
    const paymentPort = await freePort();
    const clients = createClients({
      caller: 'gateway',
      clock,
      discovery: discovery({
        env: {},
        topology: {
          services: {
            order: { urls: [order.url] },
            payment: { urls: [`http://127.0.0.1:${paymentPort}`] },
            shipping: { urls: [shipping.url] },
            inventory: { urls: [inventory.url] },
          },
        },
      }),
      defaults: { retry: false },
    });
    t.after(() => clients.close());

    const pending = aggregate(
      {
        order: ({ signal }) => clients.get('order').get<Order>('/orders/o1', { signal }),
        payment: ({ signal }) =>
          clients.get('payment').get<{ id: string }>('/payments/by-order/o1', { signal }),
        shipment: {
          run: ({ signal }) => clients.get('shipping').get<{ id: string }>('/shipments/o1', { signal }),
          timeoutMs: 800,
          fallback: null,
        },
        reservation: ({ signal }) => clients.get('inventory').get('/reservations/o1', { signal }),
      },
      { clock, timeoutMs: 2_000 },
    );
    await until(() => shipping.requests.length === 1, 'the shipment call arrives');
    await clock.advance(800);
    const view = await pending;

    assert.deepEqual(view.order, { status: 'ok', value: { id: 'o1', status: 'CONFIRMED' } });
    assert.ok(view.payment.status !== 'ok');
    assert.equal(view.payment.status, 'unavailable');
    assert.equal(view.payment.code, 'UPSTREAM_UNAVAILABLE');
    assert.deepEqual(view.shipment, {
      status: 'timeout',
      code: 'TIMEOUT',
      message: 'operation timed out after 800 ms',
      value: null,
    });
    assert.deepEqual(view.reservation, {
      status: 'not_found',
      code: 'RESERVATION_NOT_FOUND',
      message: 'inventory answered 404 RESERVATION_NOT_FOUND: reservation_not_found here',
      httpStatus: 404,
    });
    assert.deepEqual(Object.keys(view), ['order', 'payment', 'shipment', 'reservation']);
    await until(() => shipping.requests[0]?.aborted() === true, 'the timed-out part is cancelled');
  });

  it('maps errors to statuses', async () => {
    const view = await aggregate({
      open: () => Promise.reject(Object.assign(new Error('x'), {})),
      unavailable: () => Promise.reject(new UpstreamError({ service: 's', status: 503, body: undefined })),
      gatewayTimeout: () => Promise.reject(new UpstreamError({ service: 's', status: 504 })),
      broken: () => Promise.reject(new UpstreamError({ service: 's', status: 500, body: 'oops' })),
      timeout: () => Promise.reject(new TimeoutError(100)),
      sync: () => {
        throw new Error('secret detail');
      },
    });
    assert.deepEqual(view.open, { status: 'error', code: 'INTERNAL', message: 'internal error' });
    assert.deepEqual(view.unavailable, {
      status: 'unavailable',
      code: 'UPSTREAM_ERROR',
      message: 's answered 503',
      httpStatus: 503,
    });
    assert.equal(view.gatewayTimeout.status, 'timeout');
    assert.equal(view.broken.status, 'error');
    assert.deepEqual(view.timeout, {
      status: 'timeout',
      code: 'TIMEOUT',
      message: 'operation timed out after 100 ms',
    });
    assert.deepEqual(view.sync, { status: 'error', code: 'INTERNAL', message: 'internal error' });
  });

  it('reports an open circuit as unavailable, judging exhausted retries by their last error', async (t) => {
    const port = await freePort();
    const clients = createClients({
      caller: 'gateway',
      discovery: discovery({
        env: {},
        topology: { services: { payment: { urls: [`http://127.0.0.1:${port}`] } } },
      }),
      defaults: { retry: false },
    });
    t.after(() => clients.close());
    const payment = clients.get('payment');
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await aggregate({ payment: () => payment.get('/p') }));
    assert.deepEqual(
      results.map((r) => (r.payment.status === 'ok' ? 'ok' : `${r.payment.status}:${r.payment.code}`)),
      [...Array(5).fill('unavailable:UPSTREAM_UNAVAILABLE'), 'unavailable:BROKEN_CIRCUIT'],
    );
  });

  it('rejects with the reason when its signal aborts', async () => {
    const controller = new AbortController();
    const pending = aggregate(
      {
        forever: ({ signal }) =>
          new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      },
      { signal: controller.signal },
    );
    controller.abort(new Error('request closed'));
    await assert.rejects(pending, /request closed/);
  });

  it('rejects bad parts and timeouts by name', async () => {
    await assert.rejects(aggregate({ a: 42 as never }), /aggregate part "a" must be a function/);
    await assert.rejects(
      aggregate({ a: { run: () => 1, timeoutMs: -1 } }),
      /aggregate part "a".timeoutMs must be a finite number > 0, got -1/,
    );
    await assert.rejects(
      aggregate({}, { timeoutMs: 0 }),
      /aggregate.timeoutMs must be a finite number > 0, got 0/,
    );
  });
});
