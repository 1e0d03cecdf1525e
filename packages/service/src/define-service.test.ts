import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import { defineService, type RunningService } from './define-service.js';
import { ServiceError } from './errors.js';
import { startForTest, testToken } from './testing.js';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
    done();
  },
});

const Item = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });

const shop = defineService({ name: 'shopfront', version: '1.2.3' })
  .route({
    method: 'GET',
    path: '/items/:sku',
    params: z.object({ sku: z.string().regex(/^[A-Z]{3}-\d{3}$/, 'must look like ABC-123') }),
    query: z.object({ verbose: z.stringbool().default(false) }),
    response: z.object({ sku: z.string(), verbose: z.boolean() }),
    handler: ({ params, query }) => ({ sku: params.sku, verbose: query.verbose }),
  })
  .route({
    method: 'POST',
    path: '/items',
    body: z.object({ items: z.array(Item).min(1) }),
    status: 201,
    handler: ({ body }, ctx) => ({
      count: body.items.length,
      user: ctx.user?.id ?? null,
      caller: ctx.caller?.service,
    }),
  })
  .route({
    method: 'GET',
    path: '/public',
    auth: 'none',
    handler: (_input, ctx) => ({
      requestId: ctx.requestId,
      traceId: ctx.trace.traceId,
      parent: ctx.trace.parentSpanId ?? null,
    }),
  })
  .route({
    method: 'GET',
    path: '/boom',
    auth: 'none',
    handler: () => {
      throw new Error('secret detail: database password is hunter2');
    },
  })
  .route({
    method: 'GET',
    path: '/teapot',
    auth: 'none',
    handler: () => {
      throw new ServiceError(418, 'TEAPOT', 'I am a teapot', { details: { brew: 'tea' } });
    },
  })
  .route({
    method: 'GET',
    path: '/bad-response',
    auth: 'none',
    response: z.object({ ok: z.literal(true) }),
    handler: () => ({ ok: 'yes' }) as unknown as { ok: true },
  })
  .route({
    method: 'GET',
    path: '/slow',
    auth: 'none',
    handler: async (_input, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve({ done: true }), 10_000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      }),
  });

describe('defineService', () => {
  let svc: RunningService<undefined>;
  before(async () => {
    svc = await startForTest(shop, { logger: pino({ level: 'info', base: { service: 'shopfront' } }, sink) });
  });
  after(() => svc.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${svc.url}${path}`, { headers });
  const post = async (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${svc.url}${path}`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        authorization: await testToken('shopfront'),
        ...headers,
      },
    });

  it('validates params and query and answers with the declared response', async () => {
    const res = await get('/items/ABC-123?verbose=true', { authorization: await testToken('shopfront') });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { sku: 'ABC-123', verbose: true });
  });

  it('answers 400 VALIDATION_FAILED naming the field and why', async () => {
    const res = await get('/items/nope', { authorization: await testToken('shopfront') });
    assert.equal(res.status, 400);
    const body = (await res.json()) as {
      error: { code: string; message: string; details: { field: string; location: string }[] };
    };
    assert.equal(body.error.code, 'VALIDATION_FAILED');
    assert.match(body.error.message, /params\.sku: must look like ABC-123/);
    assert.deepEqual(
      body.error.details.map((d) => [d.location, d.field]),
      [['params', 'sku']],
    );
  });

  it('reports every invalid body field', async () => {
    const res = await post('/items', JSON.stringify({ items: [{ sku: '', quantity: 0 }] }));
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { details: { field: string }[]; retryable: boolean } };
    assert.deepEqual(body.error.details.map((d) => d.field).sort(), ['items.0.quantity', 'items.0.sku']);
    assert.equal(body.error.retryable, false);
  });

  it('answers with the route status and sees the caller and user from the service token', async () => {
    const res = await post('/items', JSON.stringify({ items: [{ sku: 'A', quantity: 1 }] }), {
      authorization: await testToken('shopfront', 'gateway', { id: 'u-7', scopes: ['orders:write'] }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { count: 1, user: 'u-7', caller: 'gateway' });
  });

  it('answers 401 without a service token, and with a token for another service', async () => {
    let res = await get('/items/ABC-123');
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
    res = await get('/items/ABC-123', { authorization: await testToken('someone-else') });
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /aud/);
    res = await get('/items/ABC-123', { authorization: 'Bearer not-a-jwt' });
    assert.equal(res.status, 401);
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    let res = await get('/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    res = await fetch(`${svc.url}/items/ABC-123`, { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
  });

  it('answers 413 for an oversize body, 415 for a non-JSON body and 400 for malformed JSON', async () => {
    let res = await post('/items', JSON.stringify({ items: [{ sku: 'x'.repeat(2_000_000), quantity: 1 }] }));
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
    res = await post('/items', 'sku=1', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 415);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    res = await post('/items', '{"items": [', {});
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'MALFORMED_JSON');
  });

  it('hides the detail of an unexpected error from the client and logs it with the request id', async () => {
    const res = await get('/boom', { 'x-request-id': 'req-boom-1' });
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.doesNotMatch(text, /hunter2|at .*\.ts/);
    assert.deepEqual(JSON.parse(text), {
      error: { code: 'INTERNAL', message: 'internal error (request req-boom-1)', retryable: true },
    });
    const logged = lines.find((l) => l.reqId === 'req-boom-1');
    assert.ok(logged, 'the failure is logged with the request id');
    assert.equal(logged.service, 'shopfront');
    assert.match(JSON.stringify(logged.err), /hunter2/);
  });

  it('answers a ServiceError with its status, code and details', async () => {
    const res = await get('/teapot');
    assert.equal(res.status, 418);
    assert.deepEqual(await res.json(), {
      error: { code: 'TEAPOT', message: 'I am a teapot', details: { brew: 'tea' }, retryable: false },
    });
  });

  it('refuses to send a response that breaks its own contract', async () => {
    const res = await get('/bad-response');
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RESPONSE_INVALID');
  });

  it('echoes a sane request id and replaces a suspicious one', async () => {
    let res = await get('/public', { 'x-request-id': 'abc-123' });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
    res = await get('/public', { 'x-request-id': 'bad id\twith spaces' });
    assert.notEqual(res.headers.get('x-request-id'), 'bad id\twith spaces');
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{16}$/);
  });

  it('continues the trace of an incoming traceparent and starts one when it is missing or malformed', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    let res = await get('/public', { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    let body = (await res.json()) as { traceId: string; parent: string | null };
    assert.equal(body.traceId, traceId);
    assert.equal(body.parent, '00f067aa0ba902b7');
    assert.equal(res.headers.get('x-trace-id'), traceId);
    res = await get('/public', { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` });
    body = (await res.json()) as { traceId: string; parent: string | null };
    assert.notEqual(body.traceId, '0'.repeat(32));
    assert.equal(body.parent, null);
    const span = svc.tracer.spans({ traceId }).find((s) => s.name === 'GET /public');
    assert.equal(span?.kind, 'server');
    assert.equal(span?.attributes['http.status_code'], 200);
  });

  it('answers 504 at once when the deadline has already passed', async () => {
    const res = await get('/public', { 'x-request-deadline': String(Date.now() - 1) });
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'DEADLINE_EXCEEDED');
  });

  it('bounds the handler by the deadline and aborts its signal', async () => {
    const res = await get('/slow', { 'x-request-deadline': String(Date.now() + 150) });
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'DEADLINE_EXCEEDED');
  });

  it('serves liveness, readiness and startup probes', async () => {
    assert.equal((await get('/health/live')).status, 200);
    const ready = await get('/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: {} });
    assert.equal((await get('/health/startup')).status, 200);
  });

  it('exposes Prometheus metrics per route', async () => {
    await get('/public');
    const text = await (await get('/metrics')).text();
    assert.match(
      text,
      /http_server_request_duration_seconds_bucket\{[^}]*route="\/public"[^}]*status_code="200"/,
    );
    assert.match(text, /http_server_requests_total\{[^}]*service="shopfront"/);
  });

  it('describes itself at /internal/info', async () => {
    const info = (await (await get('/internal/info')).json()) as {
      name: string;
      version: string;
      routes: unknown[];
    };
    assert.equal(info.name, 'shopfront');
    assert.equal(info.version, '1.2.3');
    assert.equal(info.routes.length, 7);
  });
});

describe('defineService definition errors', () => {
  it('rejects a bad name, a reserved path and a duplicate route', () => {
    assert.throws(() => defineService({ name: 'Order Service', version: '1' }), /lowercase letters/);
    const svc = defineService({ name: 'x', version: '1' });
    assert.throws(() => svc.route({ method: 'GET', path: '/health/ready', handler: () => 1 }), /reserved/);
    svc.route({ method: 'GET', path: '/a', handler: () => 1 });
    assert.throws(() => svc.route({ method: 'GET', path: '/a', handler: () => 2 }), /declared twice/);
  });

  it('refuses to start without a service key, naming the variable', async () => {
    const svc = defineService({ name: 'keyless', version: '1' });
    await assert.rejects(
      svc.start({ env: { FLOTILLA_LOG_LEVEL: 'silent' } }),
      /FLOTILLA_SERVICE_KEY is not set/,
    );
  });

  it('refuses to start with bad configuration, naming every bad variable', async () => {
    const svc = defineService({
      name: 'configured',
      version: '1',
      config: z.object({ DECLINE_RATE: z.coerce.number().min(0).max(1), MODE: z.enum(['a', 'b']) }),
    });
    await assert.rejects(
      startForTest(svc, { env: { DECLINE_RATE: '7' } }),
      (err: Error) => /DECLINE_RATE: .*got "7"/.test(err.message) && /MODE: .*not set/.test(err.message),
    );
  });
});

describe('trace sampling', () => {
  it('records no new trace under FLOTILLA_TRACES_PER_SECOND=0, but follows a sampled traceparent', async (t) => {
    const running = await startForTest(
      defineService({ name: 'sampled', version: '1' }).route({
        method: 'GET',
        path: '/ping',
        auth: 'none',
        handler: (_input, ctx) => ({ traceId: ctx.trace.traceId, sampled: ctx.trace.sampled }),
      }),
      { env: { FLOTILLA_TRACES_PER_SECOND: '0' } },
    );
    t.after(() => running.close());
    const unsampled = await fetch(`${running.url}/ping`);
    assert.equal(unsampled.status, 200);
    assert.equal(((await unsampled.json()) as { sampled: boolean }).sampled, false);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const followed = await fetch(`${running.url}/ping`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    assert.deepEqual(await followed.json(), { traceId, sampled: true });
    const spans = await fetch(`${running.url}/internal/spans`, {
      headers: { authorization: await testToken('sampled') },
    });
    const body = (await spans.json()) as { spans: { traceId: string; name: string }[] };
    assert.deepEqual(
      body.spans.map((s) => s.traceId),
      [traceId],
    );
  });

  it('refuses to start with a FLOTILLA_TRACES_PER_SECOND that is not a number or "all"', async () => {
    await assert.rejects(
      startForTest(defineService({ name: 'badly-sampled', version: '1' }), {
        env: { FLOTILLA_TRACES_PER_SECOND: 'lots' },
      }),
      /FLOTILLA_TRACES_PER_SECOND.*"lots"/,
    );
  });
});
