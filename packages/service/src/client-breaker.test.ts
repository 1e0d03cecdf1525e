import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  constantBackoff,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isTimeoutError,
  manualClock,
} from '@flotilla/resilience';
import { createClients } from './client.js';
import {
  freePort,
  json,
  policyOf,
  settle,
  startServer,
  type TestServer,
  until,
} from './client.test-helpers.js';
import { discovery } from './discovery.js';
import { isUpstreamUnavailableError } from './upstream-error.js';

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

function topology(service: string, ...urls: string[]) {
  return discovery({ env: {}, topology: { services: { [service]: { urls } } } });
}

describe('ServiceClient circuit breaker and bulkhead', () => {
  it('opens the circuit on a dead upstream, fails fast, and recovers through a half-open probe', async (t) => {
    const clock = manualClock();
    const port = await freePort();
    const logged: string[] = [];
    const logger = {
      warn: (_details: object, message: string) => logged.push(`warn ${message}`),
      info: (_details: object, message: string) => logged.push(`info ${message}`),
    };
    const clients = createClients({
      caller: 'order',
      clock,
      logger,
      discovery: topology('payment', `http://127.0.0.1:${port}`),
      defaults: { retry: false },
    });
    t.after(() => clients.close());
    const payment = clients.get('payment');
    for (let i = 0; i < 5; i++) {
      const outcome = await settle(payment.get('/payments/1'));
      assert.ok(
        !outcome.ok && isUpstreamUnavailableError(outcome.error),
        `call ${i + 1} reaches the dead port`,
      );
    }
    assert.equal(policyOf(clients, 'payment', 'circuit-breaker').state, 'open');
    const fast = await settle(payment.get('/payments/1'));
    assert.ok(!fast.ok && isBrokenCircuitError(fast.error));
    assert.equal(policyOf(clients, 'payment', 'timeout').totals.calls, 5, 'the open circuit made no attempt');

    const revived = await startServer((_req, res) => json(res, 200, { id: 1 }), port);
    servers.push(revived);
    const stillOpen = await settle(payment.get('/payments/1'));
    assert.ok(!stillOpen.ok && isBrokenCircuitError(stillOpen.error));
    assert.equal(revived.requests.length, 0);

    await clock.advance(10_000);
    assert.equal(policyOf(clients, 'payment', 'circuit-breaker').state, 'half-open');
    assert.deepEqual(await payment.get('/payments/1'), { id: 1 });
    assert.equal(policyOf(clients, 'payment', 'circuit-breaker').state, 'closed');
    assert.deepEqual(await payment.get('/payments/2'), { id: 1 });
    assert.equal(revived.requests.length, 2);
    assert.deepEqual(logged, [
      'warn circuit to payment is open',
      'warn circuit to payment is half-open',
      'info circuit to payment is closed',
    ]);
  });

  it('stops a retry loop as soon as the circuit opens', async (t) => {
    const clock = manualClock();
    const port = await freePort();
    const clients = createClients({
      caller: 'order',
      clock,
      discovery: topology('payment', `http://127.0.0.1:${port}`),
      defaults: { retry: { maxAttempts: 10, budget: false, backoff: constantBackoff(100) } },
    });
    t.after(() => clients.close());
    const pending = settle(clients.get('payment').get('/payments/1'));
    // Five failures open the circuit (consecutiveBreaker(5)); the sixth attempt meets it open.
    for (let retries = 1; retries <= 5; retries++) {
      await until(
        () => policyOf(clients, 'payment', 'retry').details?.retries === retries,
        `retry ${retries}`,
      );
      await clock.advance(100);
    }
    const outcome = await pending;
    assert.ok(!outcome.ok && isBrokenCircuitError(outcome.error));
    assert.equal(policyOf(clients, 'payment', 'timeout').totals.calls, 5);
  });

  it('rejects calls beyond the bulkhead limit at once', async (t) => {
    const held: (() => void)[] = [];
    const inventory = await startServer((req, res) => {
      if (req.url === '/d') json(res, 200, { ok: true });
      else held.push(() => json(res, 200, { ok: true }));
    });
    servers.push(inventory);
    const clients = createClients({
      caller: 'order',
      discovery: topology('inventory', inventory.url),
      defaults: { retry: false, bulkhead: { limit: 2 } },
    });
    t.after(() => clients.close());
    const client = clients.get('inventory');
    const first = [client.get('/a'), client.get('/b')];
    await until(() => held.length === 2, 'two calls are in flight');
    const third = await settle(client.get('/c'));
    assert.ok(!third.ok && isBulkheadRejectedError(third.error));
    assert.equal(inventory.requests.length, 2);
    for (const release of held) release();
    assert.deepEqual(await Promise.all(first), [{ ok: true }, { ok: true }]);
    assert.equal(policyOf(clients, 'inventory', 'circuit-breaker').state, 'closed');
    assert.deepEqual(await client.get('/d'), { ok: true });
  });

  it('queues calls beyond the limit when the bulkhead has a queue, bounded by the attempt timeout', async (t) => {
    const clock = manualClock();
    const held: (() => void)[] = [];
    const inventory = await startServer((_req, res) => {
      held.push(() => json(res, 200, { ok: true }));
    });
    servers.push(inventory);
    const clients = createClients({
      caller: 'order',
      clock,
      discovery: topology('inventory', inventory.url),
      defaults: { retry: false, timeoutMs: 1_000, bulkhead: { limit: 1, queue: 1 } },
    });
    t.after(() => clients.close());
    const client = clients.get('inventory');
    const first = client.get('/a');
    await until(() => held.length === 1, 'the first call is in flight');
    const queued = client.get('/b');
    const rejected = await settle(client.get('/c'));
    assert.ok(!rejected.ok && isBulkheadRejectedError(rejected.error));
    held[0]?.();
    assert.deepEqual(await first, { ok: true });
    await until(() => held.length === 2, 'the queued call is sent');
    // The queued call spent its wait inside its attempt timeout; it is cancelled when that passes.
    const late = settle(queued);
    await clock.advance(1_000);
    const outcome = await late;
    assert.ok(!outcome.ok && isTimeoutError(outcome.error));
    await until(() => inventory.requests[1]?.aborted() === true, 'the queued request is cancelled');
  });
});
