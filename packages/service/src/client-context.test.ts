import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isTimeoutError, manualClock } from '@flotilla/resilience';
import { z } from 'zod';
import { createClients } from './client.js';
import { json, settle, startServer, type TestServer, until } from './client.test-helpers.js';
import { discovery } from './discovery.js';
import { serviceTokens } from './tokens.js';
import { childContext, parseTraceparent } from './trace-context.js';
import { createTracer } from './tracer.js';
import { isUpstreamError } from './upstream-error.js';

const KEY = 'a-test-key-that-is-at-least-32-bytes-long';
const EPOCH = 1_750_000_000_000;

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

/** A server that answers 200 with what it received. */
function echo(): Promise<TestServer> {
  return server((req, res) =>
    json(res, 200, { method: req.method, url: req.url, body: req.body === '' ? null : JSON.parse(req.body) }),
  );
}

describe('ServiceClient request context', () => {
  it('sends the deadline: the context deadline when it is sooner than the attempt timeout', async (t) => {
    const clock = manualClock();
    const payment = await echo();
    const clients = createClients({
      caller: 'order',
      clock,
      now: () => EPOCH + clock.now(),
      discovery: topology('payment', payment.url),
      defaults: { timeoutMs: 2_000 },
    });
    t.after(() => clients.close());
    const client = clients.get('payment');
    await client.get('/a');
    await client.with({ deadline: EPOCH + 500 }).get('/b');
    await client.with({ deadline: EPOCH + 60_000 }).get('/c');
    assert.deepEqual(
      payment.requests.map((r) => r.headers['x-request-deadline']),
      [String(EPOCH + 2_000), String(EPOCH + 500), String(EPOCH + 2_000)],
    );
  });

  it('rejects with TimeoutError without calling when the context deadline has passed', async (t) => {
    const payment = await echo();
    const clients = createClients({ caller: 'order', discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    const outcome = await settle(
      clients
        .get('payment')
        .with({ deadline: Date.now() - 1 })
        .get('/a'),
    );
    assert.ok(!outcome.ok && isTimeoutError(outcome.error));
    assert.match((outcome.error as Error).message, /deadline passed before payment answered/);
    assert.equal(payment.requests.length, 0);
  });

  it('cancels the call at the context deadline, without counting it against the upstream', async (t) => {
    const clock = manualClock();
    const payment = await server(() => {});
    const clients = createClients({
      caller: 'order',
      clock,
      now: () => EPOCH + clock.now(),
      discovery: topology('payment', payment.url),
    });
    t.after(() => clients.close());
    const pending = settle(
      clients
        .get('payment')
        .with({ deadline: EPOCH + 300 })
        .get('/slow'),
    );
    await until(() => payment.requests.length === 1, 'the call arrives');
    await clock.advance(300);
    const outcome = await pending;
    assert.ok(!outcome.ok && isTimeoutError(outcome.error));
    await until(() => payment.requests[0]?.aborted() === true, 'the request is closed');
    assert.equal(payment.requests.length, 1, 'a deadline is never retried');
    assert.equal(clients.snapshots()[0]?.instances[0]?.outstanding, 0);
  });

  it('cancels at the deadline of a context that also has a signal, and by either signal', async (t) => {
    const clock = manualClock();
    const payment = await server(() => {});
    const clients = createClients({
      caller: 'order',
      clock,
      now: () => EPOCH + clock.now(),
      discovery: topology('payment', payment.url),
    });
    t.after(() => clients.close());
    const request = new AbortController();
    const call = new AbortController();
    const bound = clients.get('payment').with({ deadline: EPOCH + 1_000, signal: request.signal });
    const byDeadline = settle(bound.get('/a'));
    const byCall = settle(bound.get('/b', { signal: call.signal }));
    await until(() => payment.requests.length === 2, 'both calls arrive');
    call.abort(new Error('call cancelled'));
    const cancelled = await byCall;
    assert.equal(!cancelled.ok && (cancelled.error as Error).message, 'call cancelled');
    await clock.advance(1_000);
    const expired = await byDeadline;
    assert.ok(!expired.ok && isTimeoutError(expired.error));
    await until(() => payment.requests.every((r) => r.aborted()), 'both requests are closed');
    request.abort(new Error('request ended'));
    const late = await settle(clients.get('payment').with({ signal: request.signal }).get('/c'));
    assert.equal(!late.ok && (late.error as Error).message, 'request ended');
    assert.equal(payment.requests.length, 2);
  });

  it("is cancelled by the call's signal and by the context's signal", async (t) => {
    const payment = await server(() => {});
    const clients = createClients({ caller: 'order', discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    const callAbort = new AbortController();
    const contextAbort = new AbortController();
    const byCall = settle(clients.get('payment').get('/x', { signal: callAbort.signal }));
    const byContext = settle(clients.get('payment').with({ signal: contextAbort.signal }).get('/y'));
    await until(() => payment.requests.length === 2, 'both calls arrive');
    callAbort.abort(new Error('caller gave up'));
    contextAbort.abort(new Error('request ended'));
    const [a, b] = await Promise.all([byCall, byContext]);
    assert.equal(!a.ok && (a.error as Error).message, 'caller gave up');
    assert.equal(!b.ok && (b.error as Error).message, 'request ended');
    await until(() => payment.requests.every((r) => r.aborted()), 'both requests are closed');
    assert.equal(payment.requests.length, 2);
  });

  it("propagates the trace: the server's parent is the call's client span in the caller's trace", async (t) => {
    const payment = await echo();
    const tracer = createTracer({ service: 'order' });
    const clients = createClients({ caller: 'order', tracer, discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    const requestSpan = childContext(undefined);
    await clients.get('payment').with({ trace: requestSpan, requestId: 'req-42' }).get('/payments/7');
    const received = parseTraceparent(payment.requests[0]?.headers.traceparent as string);
    assert.ok(received);
    assert.equal(received.traceId, requestSpan.traceId);
    const [span] = tracer.spans({ traceId: requestSpan.traceId });
    assert.ok(span);
    assert.equal(span.kind, 'client');
    assert.equal(span.spanId, received.spanId);
    assert.equal(span.parentSpanId, requestSpan.spanId);
    assert.equal(span.name, 'payment GET /payments/7');
    assert.equal(span.status, 'ok');
    assert.deepEqual(span.attributes, {
      'peer.service': 'payment',
      'http.method': 'GET',
      'http.target': '/payments/7',
      'flotilla.attempts': 1,
      'flotilla.instance': payment.url,
      'http.status_code': 200,
    });
    assert.equal(payment.requests[0]?.headers['x-request-id'], 'req-42');

    // Named by its pattern when the caller gives one; the concrete path stays in http.target.
    const second = childContext(undefined);
    await clients.get('payment').with({ trace: second }).get('/payments/8', { route: '/payments/:id' });
    const [named] = tracer.spans({ traceId: second.traceId });
    assert.equal(named?.name, 'payment GET /payments/:id');
    assert.equal(named?.attributes['http.target'], '/payments/8');
  });

  it('records a failed call as an error span with its code', async (t) => {
    const payment = await server((_req, res) =>
      json(res, 409, { error: { code: 'ALREADY_PAID', message: 'paid', retryable: false } }),
    );
    const tracer = createTracer({ service: 'order' });
    const clients = createClients({ caller: 'order', tracer, discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    await settle(clients.get('payment').post('/payments', { body: {} }));
    const [span] = tracer.spans();
    assert.equal(span?.status, 'error');
    assert.equal(span?.attributes['error.code'], 'ALREADY_PAID');
    assert.equal(span?.attributes['http.status_code'], 409);
  });

  it('sends a service token that the upstream verifies, carrying the end user', async (t) => {
    const payment = await echo();
    const clients = createClients({
      caller: 'order',
      tokens: serviceTokens({ service: 'order', key: KEY }),
      discovery: topology('payment', payment.url),
    });
    t.after(() => clients.close());
    const user = { id: 'u-17', scopes: ['orders:write'] };
    await clients.get('payment').with({ user }).get('/x');
    await clients.get('payment').get('/y');
    const verifier = serviceTokens({ service: 'payment', key: KEY });
    const [withUser, withoutUser] = payment.requests.map((r) => {
      const header = r.headers.authorization as string;
      assert.match(header, /^Bearer /);
      return verifier.verify(header.slice('Bearer '.length));
    });
    assert.deepEqual(await withUser, { service: 'order', user });
    assert.deepEqual(await withoutUser, { service: 'order' });
  });

  it('sends no authorization header without tokens', async (t) => {
    const payment = await echo();
    const clients = createClients({ caller: 'order', discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    await clients
      .get('payment')
      .with({ user: { id: 'u', scopes: [] } })
      .get('/x');
    assert.equal(payment.requests[0]?.headers.authorization, undefined);
  });

  it('encodes JSON bodies and query strings, and keeps internal headers its own', async (t) => {
    const payment = await echo();
    const clients = createClients({ caller: 'order', discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    const answer = await clients.get('payment').put('/payments/1', {
      body: { amountCents: 250, note: 'é' },
      query: { dryRun: true, currency: 'EUR', skip: undefined, page: 2 },
      headers: { 'X-Tenant': 'acme', Traceparent: 'forged', 'x-request-deadline': '1' },
    });
    assert.deepEqual(answer, {
      method: 'PUT',
      url: '/payments/1?dryRun=true&currency=EUR&page=2',
      body: { amountCents: 250, note: 'é' },
    });
    const headers = payment.requests[0]?.headers ?? {};
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers.accept, 'application/json');
    assert.equal(headers['x-tenant'], 'acme');
    assert.notEqual(headers.traceparent, 'forged');
    assert.notEqual(headers['x-request-deadline'], '1');
    assert.match(headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
  });

  it('returns the whole response from request(), and undefined for an empty body', async (t) => {
    const payment = await server((req, res) => {
      if (req.method === 'DELETE') {
        res.writeHead(204);
        res.end();
      } else json(res, 202, { accepted: true }, { location: '/payments/9' });
    });
    const clients = createClients({ caller: 'order', discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    const response = await clients.get('payment').request('POST', '/payments', { body: { a: 1 } });
    assert.equal(response.status, 202);
    assert.equal(response.headers.location, '/payments/9');
    assert.deepEqual(response.body, { accepted: true });
    assert.equal(await clients.get('payment').delete('/payments/9'), undefined);
  });

  it('validates the response with a schema', async (t) => {
    const order = await server((req, res) =>
      json(res, 200, req.url === '/orders/good' ? { id: 'o1', totalCents: 500 } : { id: 1 }),
    );
    const clients = createClients({ caller: 'gateway', discovery: topology('order', order.url) });
    t.after(() => clients.close());
    const Order = z.object({ id: z.string(), totalCents: z.number().int() });
    const good = await clients.get('order').get('/orders/good', { schema: Order });
    assert.deepEqual(good, { id: 'o1', totalCents: 500 });
    const bad = await settle(clients.get('order').get('/orders/bad', { schema: Order }));
    assert.ok(!bad.ok && isUpstreamError(bad.error));
    assert.equal(bad.error.code, 'BAD_RESPONSE');
    assert.equal(bad.error.status, 200);
    assert.equal(bad.error.retryable, false);
    assert.match(
      bad.error.message,
      /order answered 200 with a body that does not match the schema: id: .*; totalCents: /,
    );
    assert.equal(order.requests.length, 2, 'a bad response is not retried');
  });

  it('binds a context without new pools, and close() closes them', async (t) => {
    const payment = await echo();
    const clients = createClients({ caller: 'order', discovery: topology('payment', payment.url) });
    t.after(() => clients.close());
    const unbound = clients.get('payment');
    assert.equal(clients.get('payment'), unbound);
    const bound = unbound.with({ requestId: 'r1' });
    assert.equal(bound.service, 'payment');
    await Promise.all([unbound.get('/a'), bound.get('/b'), bound.with({ requestId: 'r2' }).get('/c')]);
    assert.equal(clients.snapshots().length, 1);
    assert.equal(clients.snapshots()[0]?.instances.length, 1);
    await clients.close();
    await assert.rejects(unbound.get('/d'), /the client of payment is closed/);
    assert.equal(payment.requests.length, 3);
  });

  it('rejects a path that does not start with a slash', async (t) => {
    const clients = createClients({ caller: 'order', discovery: topology('payment', 'http://127.0.0.1:1') });
    t.after(() => clients.close());
    await assert.rejects(clients.get('payment').get('payments'), /must start with "\/", got "payments"/);
  });

  it('rejects bad policies at creation, naming the upstream and field', () => {
    const found = topology('payment', 'http://127.0.0.1:1');
    assert.throws(
      () => createClients({ caller: 'order', discovery: found, policies: { payment: { timeoutMs: 0 } } }),
      /policies.payment.timeoutMs must be a finite number > 0, got 0/,
    );
    assert.throws(
      () =>
        createClients({
          caller: 'order',
          discovery: found,
          policies: { payment: { retry: { maxAttempts: 0 } } },
        }),
      /policies.payment: retry.maxAttempts must be an integer >= 1/,
    );
    assert.throws(
      () =>
        createClients({ caller: 'order', discovery: found, defaults: { loadBalancing: 'random' as never } }),
      /defaults.loadBalancing must be 'round-robin' or 'least-outstanding', got "random"/,
    );
  });
});
