import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createTracer, parseTraceparent, type SpanRecord } from '@flotilla/service';
import { request } from 'undici';
import {
  deadUrl,
  startTestGateway,
  startUpstream,
  TEST_SERVICE_KEY,
  type TestUpstream,
} from './gateway.test-helpers.js';

const ADMIN = 'spans-admin-token';
const admin = { authorization: `Bearer ${ADMIN}` };
const CLIENT_SPAN = '00f067aa0ba902b7';

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A `traceparent` of trace `traceId` whose parent is the test's own span. */
const traceparent = (traceId: string): string => `00-${traceId}-${CLIENT_SPAN}-01`;

/** A fresh trace id per request, so that spans of one request are found by trace. */
let traces = 0;
const nextTrace = (): string => (++traces).toString(16).padStart(32, 'a');

/** The gateway's spans of one trace, once `count` of them are recorded (the server span ends just after the response). */
async function spansOf(gwUrl: string, traceId: string, count: number): Promise<SpanRecord[]> {
  for (let i = 0; ; i++) {
    const res = await request(`${gwUrl}/__admin/spans?traceId=${traceId}`, { headers: admin });
    assert.equal(res.statusCode, 200);
    const { spans } = (await res.body.json()) as { spans: SpanRecord[] };
    if (spans.length >= count || i === 500) return spans;
    await delay(10);
  }
}

const serverSpan = (spans: SpanRecord[]): SpanRecord => {
  const found = spans.filter((s) => s.kind === 'server');
  assert.equal(found.length, 1, `one server span in ${JSON.stringify(spans)}`);
  return found[0] as SpanRecord;
};

describe('gateway spans', () => {
  async function setup(t: { after: (fn: () => unknown) => void }) {
    const catalog = await startUpstream((req, res) => {
      if (req.url?.startsWith('/v1/items/broken')) return json(res, 503, { error: { code: 'DOWN' } });
      return json(res, 200, { id: req.url?.split('/').at(-1) });
    });
    t.after(() => catalog.close());
    const reviews = await startUpstream((req, res) => json(res, 200, [{ item: req.url?.split('/').at(-1) }]));
    t.after(() => reviews.close());
    const legacy = await startUpstream((_req, res) => json(res, 200, { side: 'legacy' }));
    t.after(() => legacy.close());
    const dead = await deadUrl();
    const gw = await startTestGateway(
      {
        upstreams: { gone: { maxAttempts: 2 } },
        routes: [
          {
            id: 'item',
            match: { path: '/api/items/:id', method: 'GET' },
            auth: 'public',
            upstream: { service: 'catalog', rewrite: '/v1/items/:id' },
          },
          {
            id: 'item-page',
            match: { path: '/api/items/:id/page', method: 'GET' },
            auth: 'public',
            aggregate: {
              parts: {
                item: { service: 'catalog', path: '/v1/items/:id', required: true },
                reviews: { service: 'reviews', path: '/reviews/:id', fallback: [] },
              },
            },
          },
          {
            id: 'moving',
            match: { path: '/api/moving', method: 'GET' },
            auth: 'public',
            split: {
              legacy: { service: 'legacy' },
              candidate: { service: 'catalog', rewrite: '/v1/items/moving' },
              weight: 100,
            },
          },
          {
            id: 'gone',
            match: { path: '/api/gone', method: 'GET' },
            auth: 'public',
            upstream: { service: 'gone' },
          },
        ],
      },
      { catalog: [catalog.url], reviews: [reviews.url], legacy: [legacy.url], gone: [dead] },
      { serviceKey: TEST_SERVICE_KEY, adminToken: ADMIN, accessLog: false },
    );
    t.after(() => gw.close());
    return { gw, catalog, reviews };
  }

  const seenParent = (upstream: TestUpstream, index: number) =>
    parseTraceparent(upstream.requests[index]?.headers.traceparent as string);

  it('records a server span per proxied request and a client span per attempt, parent of the upstream', async (t) => {
    const { gw, catalog } = await setup(t);
    const traceId = nextTrace();
    const res = await request(`${gw.url}/api/items/42?full=1`, {
      headers: { traceparent: traceparent(traceId) },
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();

    const spans = await spansOf(gw.url, traceId, 2);
    const server = serverSpan(spans);
    assert.equal(server.name, 'GET /api/items/:id');
    assert.equal(server.service, 'gateway');
    assert.equal(server.traceId, traceId);
    assert.equal(server.parentSpanId, CLIENT_SPAN);
    assert.equal(server.status, 'ok');
    assert.deepEqual(server.attributes, {
      'http.method': 'GET',
      'http.route': '/api/items/:id',
      'gateway.route': 'item',
      'http.status_code': 200,
      'gateway.upstream': 'catalog',
    });
    const client = spans.find((s) => s.kind === 'client') as SpanRecord;
    // The upstream's server span will be a child of the attempt's client span.
    const upstreamParent = seenParent(catalog, 0);
    assert.equal(upstreamParent?.traceId, traceId);
    assert.equal(upstreamParent?.spanId, client.spanId);

    // Named by the rewrite template, so names stay few; the concrete path is an attribute.
    assert.equal(client.name, 'catalog GET /v1/items/:id');
    assert.equal(client.attributes['http.target'], '/v1/items/42?full=1');
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(client.status, 'ok');
    assert.equal(client.attributes['peer.service'], 'catalog');
    assert.equal(client.attributes['http.status_code'], 200);
    assert.equal(client.attributes['flotilla.attempt'], 1);
    assert.equal(client.attributes['flotilla.instance'], catalog.url);
    assert.ok(client.startTimeMs >= server.startTimeMs);
    assert.ok(server.durationMs >= client.durationMs);
  });

  it('starts a new trace when the client sends no traceparent, and names unmatched requests', async (t) => {
    const { gw, catalog } = await setup(t);
    const res = await request(`${gw.url}/api/items/7`);
    await res.body.dump();
    const parent = seenParent(catalog, 0);
    assert.ok(parent !== undefined);
    const spans = await spansOf(gw.url, parent.traceId, 2);
    const server = serverSpan(spans);
    const client = spans.find((s) => s.kind === 'client');
    assert.equal(client?.spanId, parent.spanId);
    assert.equal(client?.parentSpanId, server.spanId);
    assert.equal(server.parentSpanId, undefined);

    const traceId = nextTrace();
    const missing = await request(`${gw.url}/nowhere`, { headers: { traceparent: traceparent(traceId) } });
    assert.equal(missing.statusCode, 404);
    await missing.body.dump();
    const [unmatched] = await spansOf(gw.url, traceId, 1);
    assert.equal(unmatched?.name, 'GET unmatched');
    assert.equal(unmatched?.status, 'ok');
    assert.deepEqual(unmatched?.attributes, {
      'http.method': 'GET',
      'error.code': 'ROUTE_NOT_FOUND',
      'http.status_code': 404,
    });
  });

  it('marks a 5xx answer and an unreachable upstream as errors, with a client span per attempt', async (t) => {
    const { gw } = await setup(t);
    const traceId = nextTrace();
    const broken = await request(`${gw.url}/api/items/broken`, {
      headers: { traceparent: traceparent(traceId) },
    });
    assert.equal(broken.statusCode, 503);
    await broken.body.dump();
    const spans = await spansOf(gw.url, traceId, 2);
    assert.equal(serverSpan(spans).status, 'error');
    assert.equal(serverSpan(spans).attributes['http.status_code'], 503);
    const client = spans.find((s) => s.kind === 'client');
    assert.equal(client?.status, 'error');
    assert.equal(client?.attributes['http.status_code'], 503);

    const goneTrace = nextTrace();
    const gone = await request(`${gw.url}/api/gone`, { headers: { traceparent: traceparent(goneTrace) } });
    assert.equal(gone.statusCode, 502);
    await gone.body.dump();
    const goneSpans = await spansOf(gw.url, goneTrace, 3);
    const server = serverSpan(goneSpans);
    assert.equal(server.status, 'error');
    assert.equal(server.attributes['http.status_code'], 502);
    assert.equal(server.attributes['error.code'], 'UPSTREAM_UNAVAILABLE');
    const attempts = goneSpans.filter((s) => s.kind === 'client');
    assert.deepEqual(
      attempts.map((s) => [s.attributes['flotilla.attempt'], s.status, s.attributes['error.code']]),
      [
        [1, 'error', 'UPSTREAM_UNAVAILABLE'],
        [2, 'error', 'UPSTREAM_UNAVAILABLE'],
      ],
    );
    for (const a of attempts) assert.equal(a.parentSpanId, server.spanId);
  });

  it('records one client span per aggregate part, and the side of a split', async (t) => {
    const { gw, catalog, reviews } = await setup(t);
    const traceId = nextTrace();
    const page = await request(`${gw.url}/api/items/9/page`, {
      headers: { traceparent: traceparent(traceId) },
    });
    assert.equal(page.statusCode, 200);
    await page.body.dump();
    const spans = await spansOf(gw.url, traceId, 3);
    const server = serverSpan(spans);
    assert.equal(server.name, 'GET /api/items/:id/page');
    assert.equal(server.attributes['gateway.route'], 'item-page');
    assert.equal(server.attributes['gateway.upstream'], undefined);
    const parts = spans
      .filter((s) => s.kind === 'client')
      .map((s) => [
        s.name,
        s.attributes['http.target'],
        s.attributes['peer.service'],
        s.parentSpanId,
        s.status,
      ])
      .sort();
    assert.deepEqual(parts, [
      ['catalog GET /v1/items/:id', '/v1/items/9', 'catalog', server.spanId, 'ok'],
      ['reviews GET /reviews/:id', '/reviews/9', 'reviews', server.spanId, 'ok'],
    ]);
    const partSpan = (service: string) => spans.find((s) => s.attributes['peer.service'] === service)?.spanId;
    assert.equal(seenParent(catalog, 0)?.spanId, partSpan('catalog'));
    assert.equal(seenParent(reviews, 0)?.spanId, partSpan('reviews'));

    const splitTrace = nextTrace();
    const moving = await request(`${gw.url}/api/moving`, {
      headers: { traceparent: traceparent(splitTrace) },
    });
    await moving.body.dump();
    const split = serverSpan(await spansOf(gw.url, splitTrace, 2));
    assert.equal(split.attributes['gateway.side'], 'candidate');
    assert.equal(split.attributes['gateway.upstream'], 'catalog');
  });

  it('serves GET /__admin/spans with the admin token, paged by `after`, refusing bad numbers', async (t) => {
    const { gw } = await setup(t);
    const none = await request(`${gw.url}/__admin/spans`);
    assert.equal(none.statusCode, 401);
    assert.equal(((await none.body.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
    const wrong = await request(`${gw.url}/__admin/spans`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.statusCode, 401);
    await wrong.body.dump();

    for (const query of ['sinceMs=soon', 'limit=0', 'limit=x', 'after=-1', 'after=1.5']) {
      const bad = await request(`${gw.url}/__admin/spans?${query}`, { headers: admin });
      assert.equal(bad.statusCode, 400, query);
      const body = (await bad.body.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'VALIDATION_FAILED');
      assert.match(body.error.message, /sinceMs, after and limit must be non-negative numbers/);
    }
    const post = await request(`${gw.url}/__admin/spans`, { method: 'POST', headers: admin });
    assert.equal(post.statusCode, 405);
    await post.body.dump();

    const first = nextTrace();
    const second = nextTrace();
    for (const traceId of [first, second]) {
      const res = await request(`${gw.url}/api/items/1`, { headers: { traceparent: traceparent(traceId) } });
      await res.body.dump();
      await spansOf(gw.url, traceId, 2);
    }
    const all = await request(`${gw.url}/__admin/spans`, { headers: admin });
    const page = (await all.body.json()) as { spans: SpanRecord[]; next: number };
    assert.equal(page.spans.length, 4);
    assert.equal(page.next, 4);
    assert.deepEqual(
      page.spans.map((s) => s.traceId),
      [first, first, second, second],
    );
    const limited = await request(`${gw.url}/__admin/spans?limit=1`, { headers: admin });
    const last = (await limited.body.json()) as { spans: SpanRecord[] };
    assert.equal(last.spans.length, 1);
    assert.equal(last.spans[0]?.kind, 'server');
    assert.equal(last.spans[0]?.traceId, second);

    const later = await request(`${gw.url}/__admin/spans?after=2`, { headers: admin });
    assert.deepEqual(
      ((await later.body.json()) as { spans: SpanRecord[] }).spans.map((s) => s.traceId),
      [second, second],
    );
    const since = await request(`${gw.url}/__admin/spans?sinceMs=${Date.now() + 60_000}`, { headers: admin });
    assert.deepEqual(((await since.body.json()) as { spans: SpanRecord[] }).spans, []);
  });

  it('records into a tracer passed in the options, and refuses a bad span capacity', async (t) => {
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const tracer = createTracer({ service: 'edge', capacity: 10 });
    const config = {
      routes: [{ id: 'all', match: { path: '/x/*' }, auth: 'public' as const, upstream: { service: 'up' } }],
    };
    const gw = await startTestGateway(config, { up: [upstream.url] }, { tracer, accessLog: false });
    t.after(() => gw.close());
    assert.equal(gw.gateway.tracer, tracer);
    const res = await request(`${gw.url}/x/y`);
    await res.body.dump();
    for (let i = 0; i < 500 && tracer.spans().length < 2; i++) await delay(10);
    assert.deepEqual(
      tracer.spans().map((s) => [s.service, s.kind, s.name]),
      [
        ['edge', 'client', 'up GET /x/*'],
        ['edge', 'server', 'GET /x/*'],
      ],
    );
    await assert.rejects(
      startTestGateway(config, { up: [upstream.url] }, { spanCapacity: 0 }),
      /spanCapacity must be an integer >= 1, got 0/,
    );
  });

  it('records no trace beyond maxTracesPerSecond, and tells the upstream in traceparent', async (t) => {
    const seen: (string | undefined)[] = [];
    const upstream = await startUpstream((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      json(res, 200, {});
    });
    t.after(() => upstream.close());
    const config = {
      routes: [{ id: 'all', match: { path: '/x/*' }, auth: 'public' as const, upstream: { service: 'up' } }],
    };
    const gw = await startTestGateway(
      config,
      { up: [upstream.url] },
      { maxTracesPerSecond: 0, adminToken: ADMIN, accessLog: false },
    );
    t.after(() => gw.close());
    await (await request(`${gw.url}/x/unsampled`)).body.dump();
    const traceId = nextTrace();
    await (
      await request(`${gw.url}/x/sampled`, { headers: { traceparent: traceparent(traceId) } })
    ).body.dump();
    assert.deepEqual(
      seen.map((h) => parseTraceparent(h)?.sampled),
      [false, true],
    );
    assert.equal((await spansOf(gw.url, traceId, 2)).length, 2);
    const res = await request(`${gw.url}/__admin/spans`, { headers: admin });
    const { spans } = (await res.body.json()) as { spans: SpanRecord[] };
    assert.deepEqual(new Set(spans.map((s) => s.traceId)), new Set([traceId]));
  });
});
