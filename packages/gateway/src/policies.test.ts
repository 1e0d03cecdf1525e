import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { deadUrl, startTestGateway, startUpstream } from './gateway.test-helpers.js';

describe('per-upstream policies', () => {
  it('opens the breaker on a dead upstream and then answers 503 with Retry-After without connecting', async (t) => {
    // Accepts connections and drops them: each call is a network failure the test can count.
    const server = createServer();
    let connections = 0;
    server.on('connection', (socket) => {
      connections++;
      socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const gw = await startTestGateway(
      {
        upstreams: { broken: { breakerThreshold: 3, halfOpenAfterMs: 60_000, maxAttempts: 1 } },
        routes: [
          { id: 'broken', match: { path: '/broken' }, auth: 'public', upstream: { service: 'broken' } },
        ],
      },
      { broken: [`http://127.0.0.1:${port}`] },
    );
    t.after(async () => {
      await gw.close();
      server.close();
    });
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/broken`);
      assert.equal(res.statusCode, 502);
      assert.equal(
        ((await res.body.json()) as { error: { code: string } }).error.code,
        'UPSTREAM_UNAVAILABLE',
      );
    }
    const before = connections;
    for (let i = 0; i < 5; i++) {
      const res = await request(`${gw.url}/broken`);
      assert.equal(res.statusCode, 503);
      const retryAfter = Number(res.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
      assert.deepEqual(await res.body.json(), {
        error: {
          code: 'UPSTREAM_CIRCUIT_OPEN',
          message: 'broken is failing; the gateway stopped calling it for a while (circuit open)',
          retryable: true,
        },
      });
    }
    assert.equal(connections, before, 'no connection attempt while the circuit is open');
    const upstreams = (await await gw.gateway.metrics()) as string;
    assert.match(upstreams, /flotilla_gateway_circuit_state\{upstream="broken"\} 1/);
  });

  it('retries idempotent requests (and ones with an Idempotency-Key) but never other POSTs', async (t) => {
    // Drops the first request of every path, answers the second.
    const seen = new Map<string, number>();
    const upstream = await startUpstream((req, res) => {
      const n = (seen.get(req.url as string) ?? 0) + 1;
      seen.set(req.url as string, n);
      if (n === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ attempt: n }));
    });
    const gw = await startTestGateway(
      {
        upstreams: { flaky: { maxAttempts: 2, breakerThreshold: 100 } },
        routes: [
          { id: 'flaky', match: { path: '/flaky/*' }, auth: 'public', upstream: { service: 'flaky' } },
        ],
      },
      { flaky: [upstream.url] },
    );
    t.after(async () => {
      await gw.close();
      await upstream.close();
    });
    const get = await request(`${gw.url}/flaky/get`);
    assert.equal(get.statusCode, 200);
    assert.deepEqual(await get.body.json(), { attempt: 2 });
    const put = await request(`${gw.url}/flaky/put`, {
      method: 'PUT',
      body: '{"x":1}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(put.statusCode, 200);
    await put.body.dump();
    assert.equal(
      upstream.requests.filter((r) => r.url === '/flaky/put').every((r) => r.body === '{"x":1}'),
      true,
    );
    const post = await request(`${gw.url}/flaky/post`, { method: 'POST', body: '{"x":1}' });
    assert.equal(post.statusCode, 502);
    await post.body.dump();
    assert.equal(seen.get('/flaky/post'), 1, 'a POST without Idempotency-Key is sent once');
    const keyed = await request(`${gw.url}/flaky/keyed`, {
      method: 'POST',
      body: '{"x":1}',
      headers: { 'idempotency-key': 'k-1' },
    });
    assert.equal(keyed.statusCode, 200);
    await keyed.body.dump();
    assert.equal(seen.get('/flaky/keyed'), 2);
  });

  it('never retries once the response has started: a reset mid-body breaks the client response off', async (t) => {
    let calls = 0;
    const upstream = await startUpstream((req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('partial');
      setImmediate(() => req.socket.destroy());
    });
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      {
        upstreams: { cut: { maxAttempts: 3 } },
        routes: [{ id: 'cut', match: { path: '/cut' }, auth: 'public', upstream: { service: 'cut' } }],
      },
      { cut: [upstream.url] },
    );
    t.after(() => gw.close());
    const res = await request(`${gw.url}/cut`);
    assert.equal(res.statusCode, 200);
    await assert.rejects(res.body.text());
    assert.equal(calls, 1);
  });

  it('answers 504 when an attempt times out and when the whole request does', async (t) => {
    const upstream = await startUpstream((_req, res) => {
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(200);
        res.end('late');
      }, 2_000);
    });
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      {
        limits: { bodyBytes: 1_048_576, requestTimeoutMs: 300 },
        upstreams: { slow: { timeoutMs: 5_000, maxAttempts: 1 }, slower: { timeoutMs: 100, maxAttempts: 1 } },
        routes: [
          { id: 'request', match: { path: '/slow/request' }, auth: 'public', upstream: { service: 'slow' } },
          {
            id: 'attempt',
            match: { path: '/slow/attempt' },
            auth: 'public',
            upstream: { service: 'slower' },
          },
        ],
      },
      { slow: [upstream.url], slower: [upstream.url] },
    );
    t.after(() => gw.close());
    const whole = await request(`${gw.url}/slow/request`);
    assert.equal(whole.statusCode, 504);
    assert.equal(((await whole.body.json()) as { error: { code: string } }).error.code, 'GATEWAY_TIMEOUT');
    const attempt = await request(`${gw.url}/slow/attempt`);
    assert.equal(attempt.statusCode, 504);
    assert.equal(((await attempt.body.json()) as { error: { code: string } }).error.code, 'UPSTREAM_TIMEOUT');
  });

  it('answers 502 for an unreachable upstream and 503 for one discovery does not know', async (t) => {
    const gw = await startTestGateway(
      {
        upstreams: { gone: { maxAttempts: 2 } },
        routes: [
          { id: 'gone', match: { path: '/gone' }, auth: 'public', upstream: { service: 'gone' } },
          { id: 'unknown', match: { path: '/unknown' }, auth: 'public', upstream: { service: 'nobody' } },
        ],
      },
      { gone: [await deadUrl()] },
    );
    t.after(() => gw.close());
    const gone = await request(`${gw.url}/gone`);
    assert.equal(gone.statusCode, 502);
    assert.equal(
      ((await gone.body.json()) as { error: { code: string } }).error.code,
      'UPSTREAM_UNAVAILABLE',
    );
    const unknown = await request(`${gw.url}/unknown`);
    assert.equal(unknown.statusCode, 503);
    assert.ok(unknown.headers['retry-after'] !== undefined);
    assert.equal(
      ((await unknown.body.json()) as { error: { code: string } }).error.code,
      'UPSTREAM_NOT_FOUND',
    );
  });
});
