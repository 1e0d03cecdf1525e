import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { BrokenCircuitError, type ManualClock, manualClock, TimeoutError } from '@flotilla/resilience';
import {
  createClients,
  discovery,
  errorBody,
  UpstreamError,
  UpstreamUnavailableError,
} from '@flotilla/service';
import { type AggregateResponse, createAggregator, mergeCacheControl, type PartCall } from './aggregate.js';
import { Aggregate } from './config.js';

/** What an in-memory upstream answers to one `service path`. */
interface Reply {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string | string[]>;
  /** Time to answer on the test's clock. @default 0 */
  readonly delayMs?: number;
  /** Rejects with this instead of answering. */
  readonly error?: unknown;
  /** Never answers (until aborted). */
  readonly hang?: boolean;
}

interface Received {
  readonly service: string;
  readonly method: string;
  readonly path: string;
  readonly at: number;
  readonly timeoutMs: number | undefined;
  readonly headers: Record<string, string>;
  readonly signal: AbortSignal;
}

/** Upstreams over a table of replies, answering on the manual clock and honouring the signal. */
function upstreams(clock: ManualClock, table: Record<string, Reply>) {
  const received: Received[] = [];
  const call: PartCall = (service, method, path, options) => {
    received.push({
      service,
      method,
      path,
      at: clock.now(),
      timeoutMs: options.timeoutMs,
      headers: options.headers,
      signal: options.signal,
    });
    const reply = table[`${service} ${path}`];
    return new Promise((resolve, reject) => {
      if (reply === undefined) {
        reject(
          new UpstreamError({ service, status: 404, body: errorBody('NOT_FOUND', `no ${path}`, false) }),
        );
        return;
      }
      const onAbort = () => {
        if (timer !== undefined) clock.clearTimeout(timer);
        reject(options.signal.reason);
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      const timer = reply.hang
        ? undefined
        : clock.setTimeout(() => {
            options.signal.removeEventListener('abort', onAbort);
            if (reply.error !== undefined) reject(reply.error);
            else resolve({ status: reply.status ?? 200, headers: reply.headers ?? {}, body: reply.body });
          }, reply.delayMs ?? 0);
    });
  };
  return { call, received };
}

const parts = (input: Record<string, unknown>) => Aggregate.parse({ parts: input });

const request = (headers: Record<string, string> = {}) => ({ signal: new AbortController().signal, headers });

/** Runs `handle` while moving the clock `ms` forward. */
async function run(
  clock: ManualClock,
  pending: Promise<AggregateResponse>,
  ms = 10_000,
): Promise<AggregateResponse> {
  await clock.advance(ms);
  return pending;
}

const order = { id: 'o-1', customerId: 'c 7/x', total: 1200 };
const payment = { id: 'p-1', status: 'CAPTURED' };

describe('createAggregator: configuration', () => {
  const call: PartCall = async () => ({ status: 200, headers: {}, body: null });

  it('rejects a cycle, naming the route and the parts', () => {
    assert.throws(
      () =>
        createAggregator(
          'order-view',
          parts({
            a: { service: 'svc', path: '/a/{{b.id}}' },
            b: { service: 'svc', path: '/b/{{c.id}}' },
            c: { service: 'svc', path: '/c/{{a.id}}' },
          }),
          call,
        ),
      /aggregate route "order-view": parts depend on each other in a cycle: a -> b -> c -> a/,
    );
    assert.throws(
      () => createAggregator('v', parts({ a: { service: 'svc', path: '/a/{{a.id}}' } }), call),
      /cycle: a -> a/,
    );
  });

  it('rejects a reference to an unknown part', () => {
    assert.throws(
      () =>
        createAggregator(
          'order-view',
          parts({
            order: { service: 'order', path: '/orders/:id' },
            customer: { service: 'crm', path: '/c/{{ordr.customerId}}' },
          }),
          call,
        ),
      /aggregate route "order-view" part "customer"\.path "\/c\/\{\{ordr\.customerId\}\}" references unknown part "ordr" \(parts: order, customer\)/,
    );
  });

  it('rejects malformed placeholders, the reserved name and framing headers', () => {
    assert.throws(
      () => createAggregator('v', parts({ a: { service: 's', path: '/a/{{1x}}' } }), call),
      /part "a"\.path placeholder \{\{1x\}\} must look like/,
    );
    assert.throws(
      () => createAggregator('v', parts({ a: { service: 's', path: '/a/{{b.id' } }), call),
      /unbalanced/,
    );
    assert.throws(
      () => createAggregator('v', parts({ parts: { service: 's', path: '/a' } }), call),
      /the name "parts" is reserved/,
    );
    assert.throws(
      () =>
        createAggregator(
          'v',
          parts({ a: { service: 's', path: '/a', passHeaders: ['content-length'] } }),
          call,
        ),
      /passHeaders cannot include "content-length"/,
    );
  });

  it('rejects a request whose route does not capture a param a part needs', async () => {
    const agg = createAggregator('v', parts({ a: { service: 's', path: '/a/:id' } }), call);
    await assert.rejects(agg.handle({}, request()), /needs route param ":id"/);
  });
});

describe('createAggregator: running parts', () => {
  it('runs independent parts at once and a dependent part after its dependency', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, {
      'order /orders/o-1': { body: order, delayMs: 100 },
      'payment /payments/by-order/o-1': { body: payment, delayMs: 100 },
      'crm /customers/c%207%2Fx': { body: { name: 'Ada' }, delayMs: 50 },
    });
    const agg = createAggregator(
      'order-view',
      parts({
        customer: { service: 'crm', path: '/customers/{{order.customerId}}' },
        order: { service: 'order', path: '/orders/:id', required: true },
        payment: { service: 'payment', path: '/payments/by-order/:id' },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.deepEqual(
      received.map((r) => [r.service, r.path, r.at]),
      [
        ['order', '/orders/o-1', 0],
        ['payment', '/payments/by-order/o-1', 0],
        ['crm', '/customers/c%207%2Fx', 100],
      ],
    );
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      customer: { name: 'Ada' },
      order,
      payment,
      parts: { customer: { status: 'ok' }, order: { status: 'ok' }, payment: { status: 'ok' } },
    });
    assert.deepEqual(Object.keys(response.body as object), ['customer', 'order', 'payment', 'parts']);
  });

  it('URL-encodes route params and keeps the slashes of a wildcard param', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, {
      's /a/x%3Fy%20z/files/dir%201/f.txt': { body: 1 },
    });
    const agg = createAggregator('v', parts({ a: { service: 's', path: '/a/:id/files/:*' } }), call, {
      clock,
    });
    await run(clock, agg.handle({ id: 'x?y z', '*': 'dir 1/f.txt' }, request()));
    await run(clock, agg.handle({ id: 'x?y z', '*': '/dir 1/f.txt' }, request()));
    assert.deepEqual(
      received.map((r) => r.path),
      ['/a/x%3Fy%20z/files/dir%201/f.txt', '/a/x%3Fy%20z/files/dir%201/f.txt'],
    );
  });

  it('leaves a colon that does not start a path segment alone', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, { 's /things:batch/7': { body: [] } });
    const agg = createAggregator('v', parts({ a: { service: 's', path: '/things:batch/:id' } }), call, {
      clock,
    });
    await run(clock, agg.handle({ id: '7' }, request()));
    assert.equal(received[0]?.path, '/things:batch/7');
  });

  it("passes each part its timeout, method and the request's headers", async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, { 's /a': { body: 1 }, 's /b': { body: 2 } });
    const agg = createAggregator(
      'v',
      parts({
        a: { service: 's', path: '/a', timeoutMs: 300 },
        b: { service: 's', method: 'POST', path: '/b' },
      }),
      call,
      { clock },
    );
    await run(clock, agg.handle({}, request({ 'x-request-id': 'r-1' })));
    assert.deepEqual(
      received.map((r) => [r.method, r.timeoutMs, r.headers]),
      [
        ['GET', 300, { 'x-request-id': 'r-1' }],
        ['POST', undefined, { 'x-request-id': 'r-1' }],
      ],
    );
  });
});

describe('createAggregator: failures', () => {
  it('answers with the fallback and the part status when an optional part fails', async () => {
    const clock = manualClock();
    const { call } = upstreams(clock, {
      'order /orders/o-1': { body: order },
      'payment /payments/by-order/o-1': { error: new BrokenCircuitError(5_000) },
      'shipping /shipments/o-1': {
        error: new UpstreamUnavailableError(
          'shipping',
          'http://10.1.2.3:7104',
          Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        ),
      },
    });
    const agg = createAggregator(
      'order-view',
      parts({
        order: { service: 'order', path: '/orders/:id', required: true },
        payment: { service: 'payment', path: '/payments/by-order/:id' },
        shipment: { service: 'shipping', path: '/shipments/:id', fallback: { status: 'UNKNOWN' } },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      order,
      payment: null,
      shipment: { status: 'UNKNOWN' },
      parts: {
        order: { status: 'ok' },
        payment: {
          status: 'unavailable',
          code: 'BROKEN_CIRCUIT',
          message: 'payment is unavailable (circuit open)',
        },
        shipment: { status: 'unavailable', code: 'UPSTREAM_UNAVAILABLE', message: 'shipping is unreachable' },
      },
    });
    assert.ok(!JSON.stringify(response.body).includes('10.1.2.3'), 'no instance address reaches the client');
  });

  it("times a part out at its own timeout, aborting the part's call", async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, {
      'order /orders/o-1': { body: order, delayMs: 2_000 },
      'shipping /shipments/o-1': { hang: true },
    });
    const agg = createAggregator(
      'order-view',
      parts({
        order: { service: 'order', path: '/orders/:id' },
        shipment: { service: 'shipping', path: '/shipments/:id', timeoutMs: 800 },
      }),
      call,
      { clock },
    );
    const pending = agg.handle({ id: 'o-1' }, request());
    await clock.advance(800);
    assert.equal(received[1]?.signal.aborted, true);
    assert.ok(received[1]?.signal.reason instanceof TimeoutError);
    const response = await run(clock, pending, 1_200);
    assert.deepEqual((response.body as Record<string, unknown>).parts, {
      order: { status: 'ok' },
      shipment: { status: 'timeout', code: 'TIMEOUT', message: 'shipping did not answer within 800 ms' },
    });
  });

  it('reports a 404 as not_found with the upstream code and status', async () => {
    const clock = manualClock();
    const { call } = upstreams(clock, {
      'payment /payments/by-order/o-1': {
        error: new UpstreamError({
          service: 'payment',
          status: 404,
          body: errorBody('PAYMENT_NOT_FOUND', 'no payment for o-1', false),
        }),
      },
    });
    const agg = createAggregator(
      'v',
      parts({ payment: { service: 'payment', path: '/payments/by-order/:id' } }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.deepEqual((response.body as Record<string, unknown>).parts, {
      payment: {
        status: 'not_found',
        code: 'PAYMENT_NOT_FOUND',
        message: 'payment answered 404 PAYMENT_NOT_FOUND: no payment for o-1',
        upstreamStatus: 404,
      },
    });
  });

  it('treats an error status returned instead of thrown as a failed part', async () => {
    const clock = manualClock();
    const { call } = upstreams(clock, { 's /a': { status: 500, body: errorBody('INTERNAL', 'boom', true) } });
    const agg = createAggregator('v', parts({ a: { service: 's', path: '/a' } }), call, { clock });
    const response = await run(clock, agg.handle({}, request()));
    assert.deepEqual((response.body as Record<string, unknown>).parts, {
      a: { status: 'error', code: 'INTERNAL', message: 's answered 500 INTERNAL: boom', upstreamStatus: 500 },
    });
  });

  for (const [label, reply, status, code, retryable] of [
    ['unavailable', { error: new BrokenCircuitError(1_000) }, 503, 'BROKEN_CIRCUIT', true],
    ['timed out', { error: new TimeoutError(500) }, 504, 'TIMEOUT', true],
    [
      'missing',
      {
        error: new UpstreamError({
          service: 'order',
          status: 404,
          body: errorBody('ORDER_NOT_FOUND', 'no order o-1', false),
        }),
      },
      404,
      'ORDER_NOT_FOUND',
      false,
    ],
    ['broken', { status: 500, body: errorBody('INTERNAL', 'boom', true) }, 502, 'BAD_GATEWAY', true],
    [
      'refused',
      { status: 422, body: errorBody('ORDER_INVALID', 'not yours', false) },
      422,
      'ORDER_INVALID',
      false,
    ],
  ] as const) {
    it(`fails the request with ${status} when a required part is ${label}`, async () => {
      const clock = manualClock();
      const { call } = upstreams(clock, {
        'order /orders/o-1': reply,
        'payment /payments/by-order/o-1': { body: payment },
      });
      const agg = createAggregator(
        'order-view',
        parts({
          order: { service: 'order', path: '/orders/:id', required: true },
          payment: { service: 'payment', path: '/payments/by-order/:id' },
        }),
        call,
        { clock },
      );
      const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
      assert.equal(response.status, status);
      const body = response.body as {
        error: { code: string; message: string; retryable: boolean; details: Record<string, unknown> };
      };
      assert.equal(body.error.code, code);
      assert.equal(body.error.retryable, retryable);
      assert.match(body.error.message, /^required part "order" failed: /);
      assert.equal(body.error.details.part, 'order');
      assert.equal(body.error.details.route, 'order-view');
      assert.equal(body.error.details.service, 'order');
      assert.equal(response.headers['retry-after'], status === 503 ? '1' : undefined);
    });
  }

  it('answers as soon as a required part fails and abandons the other parts', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, {
      'order /orders/o-1': { error: new BrokenCircuitError(1_000), delayMs: 10 },
      'payment /payments/by-order/o-1': { hang: true },
    });
    const agg = createAggregator(
      'order-view',
      parts({
        order: { service: 'order', path: '/orders/:id', required: true },
        payment: { service: 'payment', path: '/payments/by-order/:id' },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()), 10);
    assert.equal(response.status, 503);
    assert.equal(received[1]?.signal.aborted, true);
  });

  it('skips parts that depend on a failed part, down the chain, with their fallbacks', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, { 'order /orders/o-1': { error: new TimeoutError(500) } });
    const agg = createAggregator(
      'order-view',
      parts({
        order: { service: 'order', path: '/orders/:id' },
        customer: { service: 'crm', path: '/customers/{{order.customerId}}', fallback: {} },
        segment: { service: 'crm', path: '/segments/{{customer.segment}}' },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.equal(received.length, 1);
    assert.deepEqual(response.body, {
      order: null,
      customer: {},
      segment: null,
      parts: {
        order: { status: 'timeout', code: 'TIMEOUT', message: 'order did not answer in time' },
        customer: {
          status: 'skipped',
          code: 'DEPENDENCY_FAILED',
          message: 'depends on part "order", which failed: order did not answer in time',
        },
        segment: {
          status: 'skipped',
          code: 'DEPENDENCY_FAILED',
          message: 'depends on part "customer", which was skipped: order did not answer in time',
        },
      },
    });
  });

  it('fails with the root cause when a required part is skipped', async () => {
    const clock = manualClock();
    const { call } = upstreams(clock, { 'order /orders/o-1': { error: new BrokenCircuitError(1_000) } });
    const agg = createAggregator(
      'v',
      parts({
        order: { service: 'order', path: '/orders/:id' },
        customer: { service: 'crm', path: '/customers/{{order.customerId}}', required: true },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.equal(response.status, 503);
    const error = (
      response.body as { error: { code: string; message: string; details: Record<string, unknown> } }
    ).error;
    assert.equal(error.code, 'BROKEN_CIRCUIT');
    assert.match(
      error.message,
      /^required part "customer" was skipped: depends on part "order", which failed: order is unavailable \(circuit open\)$/,
    );
    assert.equal(error.details.status, 'skipped');
  });

  it('skips a part whose dependency lacks the value it needs', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, {
      'order /orders/o-1': { body: { id: 'o-1', customer: { id: null } } },
    });
    const agg = createAggregator(
      'v',
      parts({
        order: { service: 'order', path: '/orders/:id' },
        customer: { service: 'crm', path: '/customers/{{ order.customer.id }}' },
        items: { service: 'catalog', path: '/items/{{order.items.0.sku}}' },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.equal(received.length, 1);
    assert.deepEqual((response.body as Record<string, unknown>).parts, {
      order: { status: 'ok' },
      customer: {
        status: 'skipped',
        code: 'DEPENDENCY_VALUE_MISSING',
        message: '{{ order.customer.id }} is not a string, number or boolean in the response of part "order"',
      },
      items: {
        status: 'skipped',
        code: 'DEPENDENCY_VALUE_MISSING',
        message: '{{order.items.0.sku}} is missing in the response of part "order"',
      },
    });
  });

  it('reads array elements of a dependency by index', async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, {
      'order /orders/o-1': { body: { items: [{ sku: 'SKU 1' }] } },
      'catalog /items/SKU%201': { body: { title: 'Lamp' } },
    });
    const agg = createAggregator(
      'v',
      parts({
        order: { service: 'order', path: '/orders/:id' },
        item: { service: 'catalog', path: '/items/{{order.items.0.sku}}' },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.equal(received[1]?.path, '/items/SKU%201');
    assert.deepEqual((response.body as Record<string, unknown>).item, { title: 'Lamp' });
  });

  it("rejects with the caller's reason when the request is aborted, aborting every part", async () => {
    const clock = manualClock();
    const { call, received } = upstreams(clock, { 's /a': { hang: true }, 's /b': { hang: true } });
    const agg = createAggregator(
      'v',
      parts({ a: { service: 's', path: '/a' }, b: { service: 's', path: '/b' } }),
      call,
      { clock },
    );
    const controller = new AbortController();
    const pending = agg.handle({}, { signal: controller.signal, headers: {} });
    await clock.flush();
    const reason = new Error('client went away');
    controller.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    assert.deepEqual(
      received.map((r) => r.signal.aborted),
      [true, true],
    );
  });
});

describe('createAggregator: headers', () => {
  it('copies passHeaders: most restrictive cache-control, united vary, first part for others', async () => {
    const clock = manualClock();
    const { call } = upstreams(clock, {
      'order /orders/o-1': {
        body: order,
        headers: { 'cache-control': 'public, max-age=60, s-maxage=120', vary: 'Accept', etag: '"o"' },
      },
      'payment /p/o-1': {
        body: payment,
        headers: {
          'cache-control': 'public, max-age=10, must-revalidate',
          vary: ['Accept-Language', 'accept'],
          etag: '"p"',
        },
      },
    });
    const agg = createAggregator(
      'v',
      parts({
        order: { service: 'order', path: '/orders/:id', passHeaders: ['cache-control', 'vary', 'etag'] },
        payment: { service: 'payment', path: '/p/:id', passHeaders: ['cache-control', 'vary', 'etag'] },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.deepEqual(response.headers, {
      'cache-control': 'public, max-age=10, s-maxage=10, must-revalidate',
      vary: 'Accept, Accept-Language',
      etag: '"o"',
    });
  });

  it('marks a degraded response no-store and names the failed parts', async () => {
    const clock = manualClock();
    const { call } = upstreams(clock, {
      'order /orders/o-1': { body: order, headers: { 'cache-control': 'public, max-age=60' } },
      'payment /p/o-1': { error: new BrokenCircuitError(1_000) },
    });
    const agg = createAggregator(
      'v',
      parts({
        order: { service: 'order', path: '/orders/:id', passHeaders: ['cache-control'] },
        payment: { service: 'payment', path: '/p/:id' },
        shipment: { service: 'shipping', path: '/s/{{payment.id}}' },
      }),
      call,
      { clock },
    );
    const response = await run(clock, agg.handle({ id: 'o-1' }, request()));
    assert.deepEqual(response.headers, {
      'cache-control': 'no-store',
      'x-flotilla-partial': 'payment,shipment',
    });
  });
});

describe('mergeCacheControl', () => {
  it('keeps the only value when there is one part', () => {
    assert.equal(mergeCacheControl(['public, max-age=60']), 'public, max-age=60');
  });

  it('is no-store when any part is no-store or sends nothing', () => {
    assert.equal(mergeCacheControl(['max-age=60', 'no-store']), 'no-store');
    assert.equal(mergeCacheControl(['max-age=60', undefined]), 'no-store');
  });

  it('prefers private to public and the smallest ages', () => {
    assert.equal(
      mergeCacheControl([
        'public, max-age=60, stale-while-revalidate=30',
        'private, max-age=5, stale-while-revalidate=10',
      ]),
      'private, max-age=5, stale-while-revalidate=10',
    );
  });

  it('requires revalidation when a part gives no freshness', () => {
    assert.equal(mergeCacheControl(['max-age=60', 'no-cache, max-age=30']), 'no-cache, max-age=30');
    assert.equal(mergeCacheControl(['max-age=60', 'no-cache']), 'no-cache');
    assert.equal(mergeCacheControl(['max-age=60', 'public']), 'no-cache');
  });

  it('keeps immutable only when every part is immutable, and drops unknown directives', () => {
    assert.equal(mergeCacheControl(['max-age=600, immutable', 'max-age=60, x-custom=1']), 'max-age=60');
    assert.equal(
      mergeCacheControl(['max-age=600, immutable', 'max-age="60", immutable']),
      'max-age=60, immutable',
    );
  });
});

describe('createAggregator over real HTTP', () => {
  const servers: Server[] = [];
  after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

  async function listen(server: Server): Promise<string> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('aggregates real services: one up, one answering 404, one unreachable', async (t) => {
    const orderUrl = await listen(
      createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'private, max-age=5' });
        res.end(
          JSON.stringify({ id: req.url?.split('/').at(-1), customerId: 'c-1', via: req.headers['x-tenant'] }),
        );
      }),
    );
    const paymentUrl = await listen(
      createServer((_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(errorBody('PAYMENT_NOT_FOUND', 'no payment yet', false)));
      }),
    );
    const closed = createServer();
    const deadUrl = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    servers.splice(servers.indexOf(closed), 1);

    const clients = createClients({
      caller: 'gateway',
      discovery: discovery({
        env: {},
        topology: {
          services: {
            order: { urls: [orderUrl] },
            payment: { urls: [paymentUrl] },
            shipping: { urls: [deadUrl] },
          },
        },
      }),
      defaults: { retry: false },
    });
    t.after(() => clients.close());
    const call: PartCall = (service, method, path, options) =>
      clients.get(service).request(method, path, {
        signal: options.signal,
        headers: options.headers,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
    const agg = createAggregator(
      'order-view',
      parts({
        order: { service: 'order', path: '/orders/:id', required: true, passHeaders: ['cache-control'] },
        payment: { service: 'payment', path: '/payments/by-order/{{order.id}}' },
        shipment: { service: 'shipping', path: '/shipments/:id', timeoutMs: 5_000 },
      }),
      call,
    );
    const response = await agg.handle({ id: 'o-9' }, request({ 'x-tenant': 'acme' }));
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      order: { id: 'o-9', customerId: 'c-1', via: 'acme' },
      payment: null,
      shipment: null,
      parts: {
        order: { status: 'ok' },
        payment: {
          status: 'not_found',
          code: 'PAYMENT_NOT_FOUND',
          message: 'payment answered 404 PAYMENT_NOT_FOUND: no payment yet',
          upstreamStatus: 404,
        },
        shipment: { status: 'unavailable', code: 'UPSTREAM_UNAVAILABLE', message: 'shipping is unreachable' },
      },
    });
    assert.deepEqual(response.headers, {
      'cache-control': 'no-store',
      'x-flotilla-partial': 'payment,shipment',
    });
  });
});
