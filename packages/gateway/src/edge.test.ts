import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startTestGateway, startUpstream, type TestUpstream } from './gateway.test-helpers.js';

describe('edge features', () => {
  let upstream: TestUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end('{"ok":true}');
    });
    gw = await startTestGateway(
      {
        cors: { origins: ['https://shop.example'], credentials: true, maxAgeSec: 120 },
        routes: [
          { id: 'items', match: { path: '/items/*' }, auth: 'public', upstream: { service: 'catalog' } },
        ],
      },
      { catalog: [upstream.url] },
    );
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('answers a CORS preflight itself', async () => {
    const before = upstream.requests.length;
    const res = await request(`${gw.url}/items/1`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://shop.example');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, PUT, PATCH, DELETE');
    assert.equal(res.headers['access-control-max-age'], '120');
    assert.equal(res.headers.vary, 'origin');
    await res.body.dump();
    const refused = await request(`${gw.url}/items/1`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(refused.statusCode, 403);
    await refused.body.dump();
    assert.equal(upstream.requests.length, before);
  });

  it('adds CORS headers for allowed origins and replaces the upstream ones', async () => {
    const res = await request(`${gw.url}/items/1`, { headers: { origin: 'https://shop.example' } });
    assert.equal(res.headers['access-control-allow-origin'], 'https://shop.example');
    await res.body.dump();
    const other = await request(`${gw.url}/items/1`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    await other.body.dump();
  });

  it('adds security headers, and HSTS behind a TLS-terminating proxy', async () => {
    const plain = await request(`${gw.url}/items/1`);
    assert.equal(plain.headers['x-content-type-options'], 'nosniff');
    assert.equal(plain.headers['x-frame-options'], 'DENY');
    assert.equal(plain.headers['referrer-policy'], 'no-referrer');
    assert.equal(plain.headers['strict-transport-security'], undefined);
    await plain.body.dump();
    const tls = await request(`${gw.url}/items/1`, { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(tls.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    await tls.body.dump();
  });

  it('serves health and Prometheus metrics per route and upstream', async () => {
    const live = await request(`${gw.url}/health/live`);
    assert.equal(live.statusCode, 200);
    await live.body.dump();
    const ready = await request(`${gw.url}/health/ready`);
    assert.equal(ready.statusCode, 200);
    assert.equal(((await ready.body.json()) as { status: string }).status, 'ready');
    const startup = await request(`${gw.url}/health/startup`);
    assert.equal(startup.statusCode, 200);
    assert.equal(((await startup.body.json()) as { status: string }).status, 'started');
    const hit = await request(`${gw.url}/items/2`);
    await hit.body.dump();
    const text = await (await request(`${gw.url}/metrics`)).body.text();
    assert.match(
      text,
      /flotilla_gateway_requests_total\{route="items",upstream="catalog",status="200"\} \d+/,
    );
    assert.match(
      text,
      /flotilla_gateway_request_duration_seconds_bucket\{route="items",upstream="catalog",le="\+Inf"\} \d+/,
    );
    assert.match(
      text,
      /flotilla_gateway_request_duration_seconds_count\{route="items",upstream="catalog"\} \d+/,
    );
    assert.match(text, /flotilla_gateway_circuit_state\{upstream="catalog"\} 0/);
  });

  it('writes one access log line per request with its ids', async () => {
    const res = await request(`${gw.url}/items/3`, {
      headers: {
        'x-request-id': 'log-me',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      },
    });
    await res.body.dump();
    const line = gw.logs.lines.find((l) => l.reqId === 'log-me');
    assert.ok(line !== undefined);
    assert.equal(line.msg, 'request');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, 'items');
    assert.equal(line.upstream, 'catalog');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  });
});
