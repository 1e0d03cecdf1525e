import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { constantBackoff, isTimeoutError, manualClock } from '@flotilla/resilience';
import { createClients } from './client.js';
import {
  fail,
  freePort,
  json,
  policyOf,
  settle,
  startServer,
  type TestServer,
  until,
} from './client.test-helpers.js';
import { discovery } from './discovery.js';
import { isUpstreamError, isUpstreamUnavailableError, type UpstreamError } from './upstream-error.js';

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

function topology(service: string, ...urls: string[]) {
  return discovery({ env: {}, topology: { services: { [service]: { urls } } } });
}

/** Retries without waiting, on the real clock: for tests where the wait is not the point. */
const immediateRetry = { maxAttempts: 3, backoff: constantBackoff(0) };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await settle(promise);
  assert.equal(outcome.ok, false, 'the call should have failed');
  return (outcome as { error: unknown }).error;
}

describe('ServiceClient retries', () => {
  it("retries a 503 after the upstream's Retry-After", async (t) => {
    const clock = manualClock();
    const payment = await server((req, res) => {
      if (payment.requests.indexOf(req) === 0) fail(res, 503, 'UNAVAILABLE', { 'retry-after': '2' });
      else json(res, 200, { ok: true });
    });
    const clients = createClients({
      caller: 'order',
      clock,
      discovery: topology('payment', payment.url),
      defaults: { retry: { backoff: constantBackoff(10) } },
    });
    t.after(() => clients.close());
    const pending = clients.get('payment').get('/payments/1');
    await until(() => policyOf(clients, 'payment', 'retry').details?.retries === 1, 'the retry is scheduled');
    await clock.advance(1_999);
    assert.equal(
      policyOf(clients, 'payment', 'timeout').totals.calls,
      1,
      'no second attempt before Retry-After',
    );
    await clock.advance(1);
    assert.equal(policyOf(clients, 'payment', 'timeout').totals.calls, 2);
    assert.deepEqual(await pending, { ok: true });
    assert.equal(payment.requests.length, 2);
  });

  it('retries a 429 and a 502, and reports the last error when attempts run out', async (t) => {
    const statuses = [429, 502, 504];
    const inventory = await server((_req, res) => fail(res, statuses.shift() ?? 500, 'BUSY'));
    const clients = createClients({
      caller: 'order',
      discovery: topology('inventory', inventory.url),
      defaults: { retry: immediateRetry },
    });
    t.after(() => clients.close());
    const err = await rejection(clients.get('inventory').get('/stock'));
    assert.ok(isUpstreamError(err));
    assert.equal(err.status, 504);
    assert.equal(err.code, 'BUSY');
    assert.equal(inventory.requests.length, 3);
  });

  it('never retries a POST without an idempotency key', async (t) => {
    const payment = await server((_req, res) => fail(res, 503, 'UNAVAILABLE'));
    const clients = createClients({
      caller: 'order',
      discovery: topology('payment', payment.url),
      defaults: { retry: immediateRetry },
    });
    t.after(() => clients.close());
    const err = await rejection(clients.get('payment').post('/payments', { body: { amountCents: 100 } }));
    assert.ok(isUpstreamError(err));
    assert.equal(err.status, 503);
    assert.equal(payment.requests.length, 1);
  });

  it('retries a POST that carries an idempotency key', async (t) => {
    const payment = await server((req, res) => {
      if (payment.requests.indexOf(req) < 2) fail(res, 503, 'UNAVAILABLE');
      else json(res, 201, { id: 'p1' });
    });
    const clients = createClients({
      caller: 'order',
      discovery: topology('payment', payment.url),
      defaults: { retry: immediateRetry },
    });
    t.after(() => clients.close());
    const created = await clients
      .get('payment')
      .post('/payments', { body: { amountCents: 100 }, idempotencyKey: 'saga-1:process_payment' });
    assert.deepEqual(created, { id: 'p1' });
    assert.equal(payment.requests.length, 3);
    assert.deepEqual(
      payment.requests.map((r) => r.headers['idempotency-key']),
      ['saga-1:process_payment', 'saga-1:process_payment', 'saga-1:process_payment'],
    );
    assert.deepEqual(JSON.parse(payment.requests[2]?.body ?? ''), { amountCents: 100 });
  });

  it('treats an Idempotency-Key header like the option', async (t) => {
    const payment = await server((req, res) => {
      if (payment.requests.indexOf(req) === 0) fail(res, 502, 'BAD_GATEWAY');
      else json(res, 200, { ok: true });
    });
    const clients = createClients({
      caller: 'order',
      discovery: topology('payment', payment.url),
      defaults: { retry: immediateRetry },
    });
    t.after(() => clients.close());
    const done = await clients.get('payment').patch('/payments/1', { headers: { 'Idempotency-Key': 'k1' } });
    assert.deepEqual(done, { ok: true });
    assert.equal(payment.requests.length, 2);
  });

  it('never retries a 4xx, and 4xx answers do not open the circuit', async (t) => {
    const order = await server((_req, res) => fail(res, 404, 'ORDER_NOT_FOUND'));
    const clients = createClients({
      caller: 'gateway',
      discovery: topology('order', order.url),
      defaults: { retry: immediateRetry },
    });
    t.after(() => clients.close());
    for (let i = 0; i < 8; i++) {
      const err = (await rejection(clients.get('order').get(`/orders/${i}`))) as UpstreamError;
      assert.equal(err.code, 'ORDER_NOT_FOUND');
      assert.equal(err.status, 404);
      assert.equal(err.retryable, false);
    }
    assert.equal(order.requests.length, 8);
    assert.equal(policyOf(clients, 'order', 'circuit-breaker').state, 'closed');
  });

  it('stops retrying when the retry budget is spent', async (t) => {
    const inventory = await server((_req, res) => fail(res, 503, 'UNAVAILABLE'));
    const clients = createClients({
      caller: 'order',
      discovery: topology('inventory', inventory.url),
      // No breaker: five failures in a row would open it and end the retries first.
      defaults: {
        retry: { ...immediateRetry, budget: { ratio: 0.5, minRetriesPerSecond: 0 } },
        breaker: false,
      },
    });
    t.after(() => clients.close());
    for (let i = 0; i < 4; i++) await rejection(clients.get('inventory').get('/stock'));
    // Four calls earn two retries at a ratio of 0.5, where three attempts each would make twelve requests.
    assert.equal(inventory.requests.length, 6);
    const snapshot = clients.snapshots()[0];
    assert.equal(snapshot?.retryBudget?.withdrawals, 2);
    assert.equal(policyOf(clients, 'inventory', 'retry').details?.givenUp, 4);
  });

  it('retries a connection failure on another instance', async (t) => {
    const deadPort = await freePort();
    const live = await server((_req, res) => json(res, 200, { from: 'live' }));
    const clients = createClients({
      caller: 'order',
      discovery: topology('shipping', `http://127.0.0.1:${deadPort}`, live.url),
      defaults: { retry: immediateRetry, loadBalancing: 'round-robin' },
    });
    t.after(() => clients.close());
    assert.deepEqual(await clients.get('shipping').get('/shipments/1'), { from: 'live' });
    assert.equal(policyOf(clients, 'shipping', 'timeout').totals.calls, 2);
    assert.equal(live.requests.length, 1);
  });

  it('turns a refused connection into UpstreamUnavailableError with its cause', async (t) => {
    const deadPort = await freePort();
    const clients = createClients({
      caller: 'order',
      discovery: topology('shipping', `http://127.0.0.1:${deadPort}`),
      defaults: { retry: false },
    });
    t.after(() => clients.close());
    const err = await rejection(clients.get('shipping').get('/shipments/1'));
    assert.ok(isUpstreamUnavailableError(err));
    assert.equal(err.retryable, true);
    assert.equal(err.instance, `http://127.0.0.1:${deadPort}`);
    assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
  });

  it('times out an attempt, cancels its request, and retries', async (t) => {
    const clock = manualClock();
    const notification = await server((req, res) => {
      if (notification.requests.indexOf(req) === 0) return; // never answers
      json(res, 200, { sent: true });
    });
    const clients = createClients({
      caller: 'order',
      clock,
      discovery: topology('notification', notification.url),
      defaults: { timeoutMs: 1_000, retry: { backoff: constantBackoff(0) } },
    });
    t.after(() => clients.close());
    const pending = clients.get('notification').get('/x');
    await until(() => notification.requests.length === 1, 'the first attempt arrives');
    await clock.advance(1_000);
    await until(
      () => policyOf(clients, 'notification', 'retry').details?.retries === 1,
      'the retry is scheduled',
    );
    await clock.advance(0);
    assert.deepEqual(await pending, { sent: true });
    assert.equal(notification.requests.length, 2);
    await until(() => notification.requests[0]?.aborted() === true, 'the timed-out request is closed');
  });

  it('rejects with TimeoutError when the only attempt times out', async (t) => {
    const clock = manualClock();
    const notification = await server(() => {});
    const clients = createClients({
      caller: 'order',
      clock,
      discovery: topology('notification', notification.url),
      defaults: { retry: false },
    });
    t.after(() => clients.close());
    const pending = settle(clients.get('notification').get('/x', { timeoutMs: 250 }));
    await until(() => notification.requests.length === 1, 'the attempt arrives');
    await clock.advance(250);
    const outcome = await pending;
    assert.equal(outcome.ok, false);
    assert.ok(isTimeoutError((outcome as { error: unknown }).error));
    assert.match(notification.requests[0]?.headers['x-request-deadline'] as string, /^\d+$/);
  });
});
