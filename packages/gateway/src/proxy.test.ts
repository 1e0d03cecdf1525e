import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { serviceTokens } from '@flotilla/service';
import { request } from 'undici';
import {
  hsToken,
  rawRequest,
  startTestGateway,
  startUpstream,
  statusOf,
  TEST_SECRET,
  TEST_SERVICE_KEY,
  type TestUpstream,
} from './gateway.test-helpers.js';

describe('proxying', () => {
  let catalog: TestUpstream;
  let legacy: TestUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;

  before(async () => {
    catalog = await startUpstream((req, res, body) => {
      if (req.url?.startsWith('/hop')) {
        res.writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, x-upstream-private',
          'x-upstream-private': 'secret',
          'keep-alive': 'timeout=5',
          'x-kept': 'yes',
          'x-frame-options': 'SAMEORIGIN',
        });
        res.end('{}');
        return;
      }
      const text = JSON.stringify({ service: 'catalog', url: req.url, method: req.method, body });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    legacy = await startUpstream();
    gw = await startTestGateway(
      {
        auth: { jwt: { secret: TEST_SECRET } },
        routes: [
          {
            id: 'item',
            match: { path: '/api/items/:id', method: 'GET' },
            auth: 'public',
            upstream: { service: 'catalog', rewrite: '/v1/items/:id' },
          },
          {
            id: 'item-export',
            match: { path: '/api/items/export' },
            auth: 'public',
            upstream: { service: 'catalog', rewrite: '/export' },
          },
          {
            id: 'api',
            match: { path: '/api/*' },
            auth: 'public',
            upstream: { service: 'legacy', rewrite: '/old/*' },
          },
          {
            id: 'secure',
            match: { path: '/secure/*' },
            upstream: {
              service: 'catalog',
              headers: { set: { 'x-added': 'by-gateway' }, remove: ['x-remove-me'] },
            },
          },
          { id: 'hop', match: { path: '/hop' }, auth: 'public', upstream: { service: 'catalog' } },
        ],
      },
      { catalog: [catalog.url], legacy: [legacy.url] },
      { serviceKey: TEST_SERVICE_KEY },
    );
  });
  after(async () => {
    await gw.close();
    await catalog.close();
    await legacy.close();
  });

  it('routes by path pattern and rewrites the upstream path, keeping the query', async () => {
    const res = await request(`${gw.url}/api/items/42?expand=stock`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), {
      service: 'catalog',
      url: '/v1/items/42?expand=stock',
      method: 'GET',
      body: '',
    });
  });

  it('takes the most specific route: static beats param beats wildcard', async () => {
    const exported = await request(`${gw.url}/api/items/export`);
    assert.equal(((await exported.body.json()) as { url: string }).url, '/export');
    const other = await request(`${gw.url}/api/orders/7/lines`);
    const body = (await other.body.json()) as { url: string; service: string };
    assert.equal(body.service, 'upstream');
    assert.equal(body.url, '/old/orders/7/lines');
    // POST /api/items/42 is not the GET-only item route: the wildcard takes it.
    const posted = await request(`${gw.url}/api/items/42`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    const postedBody = (await posted.body.json()) as { url: string; body: string };
    assert.equal(postedBody.url, '/old/items/42');
    assert.equal(postedBody.body, '{"a":1}');
  });

  it('answers 404 for unknown paths in the standard error shape', async () => {
    const res = await request(`${gw.url}/nothing/here`);
    assert.equal(res.statusCode, 404);
    assert.deepEqual(await res.body.json(), {
      error: { code: 'ROUTE_NOT_FOUND', message: 'no route for GET /nothing/here', retryable: false },
    });
  });

  it('drops hop-by-hop headers both ways and sets x-forwarded-*', async () => {
    const response = await rawRequest(
      gw.url,
      [
        'GET /hop HTTP/1.1',
        'Host: shop.example',
        'Connection: close, X-Client-Private',
        'X-Client-Private: do-not-forward',
        'Keep-Alive: timeout=9',
        'TE: trailers',
        'Proxy-Authorization: Basic abc',
        'Upgrade: h2c',
        'X-Forwarded-For: 6.6.6.6',
        'X-Forwarded-Host: spoofed.example',
        '',
        '',
      ].join('\r\n'),
    );
    assert.equal(statusOf(response), 200);
    const seen = catalog.requests.at(-1);
    assert.ok(seen !== undefined);
    for (const name of ['x-client-private', 'keep-alive', 'te', 'proxy-authorization', 'upgrade'])
      assert.equal(seen.headers[name], undefined, `${name} reached the upstream`);
    assert.notEqual(seen.headers.connection, 'close, X-Client-Private');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], 'shop.example');
    const head = response.slice(0, response.indexOf('\r\n\r\n')).toLowerCase();
    assert.doesNotMatch(head, /x-upstream-private/);
    assert.doesNotMatch(head, /keep-alive: timeout=5/);
    assert.match(head, /x-kept: yes/);
    // The gateway's security headers replace the upstream's.
    assert.match(head, /x-frame-options: deny/);
    assert.doesNotMatch(head, /sameorigin/);
    assert.match(head, /x-content-type-options: nosniff/);
  });

  it('strips internal headers and sends the verified user only inside a service token', async () => {
    const token = await hsToken(TEST_SECRET, { sub: 'user-7', scope: 'orders:read orders:write' });
    const res = await request(`${gw.url}/secure/profile`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-flotilla-user': 'admin',
        'x-flotilla-caller': 'payment',
        'x-request-deadline': '99999999999999',
        'x-remove-me': 'gone',
        'x-request-id': 'req-123',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-request-id'], 'req-123');
    await res.body.dump();
    const seen = catalog.requests.at(-1);
    assert.ok(seen !== undefined);
    assert.equal(seen.headers['x-flotilla-user'], undefined);
    assert.equal(seen.headers['x-flotilla-caller'], undefined);
    assert.equal(seen.headers['x-remove-me'], undefined);
    assert.equal(seen.headers['x-added'], 'by-gateway');
    assert.equal(seen.headers['x-request-id'], 'req-123');
    assert.match(String(seen.headers.traceparent), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    assert.notEqual(seen.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.ok(Number(seen.headers['x-request-deadline']) < 99999999999999);
    const authorization = String(seen.headers.authorization);
    assert.notEqual(authorization, `Bearer ${token}`);
    const identity = await serviceTokens({ service: 'catalog', key: TEST_SERVICE_KEY }).verify(
      authorization.slice(7),
    );
    assert.equal(identity.service, 'gateway');
    assert.deepEqual(identity.user, { id: 'user-7', scopes: ['orders:read', 'orders:write'] });
  });

  it('replaces an insane x-request-id and starts a trace when there is none', async () => {
    const res = await request(`${gw.url}/hop`, {
      headers: { 'x-request-id': 'bad id with spaces <script>' },
    });
    await res.body.dump();
    const id = String(res.headers['x-request-id']);
    assert.match(id, /^[0-9a-f]{32}$/);
    const seen = catalog.requests.at(-1);
    assert.equal(seen?.headers['x-request-id'], id);
    assert.match(String(seen?.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});

describe('streaming', () => {
  it('delivers the first chunk of a large chunked response before the upstream finished writing it', {
    timeout: 20_000,
  }, async (t) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = false;
    const big = Buffer.alloc(1024 * 1024, 'a');
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(big);
      // The rest only comes once the client has seen the first part: a buffering proxy never gets it.
      void released.then(() => {
        res.end(Buffer.alloc(1024, 'b'));
        finished = true;
      });
    });
    const gw = await startTestGateway(
      {
        routes: [
          { id: 'stream', match: { path: '/stream' }, auth: 'public', upstream: { service: 'files' } },
        ],
      },
      { files: [upstream.url] },
    );
    t.after(async () => {
      await gw.close();
      await upstream.close();
    });
    const total = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/stream`, (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size >= big.length && !finished) release();
        });
        res.on('end', () => resolve(size));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(total, big.length + 1024);
    assert.equal(finished, true);
  });

  it('streams a request body to the upstream', async (t) => {
    const upstream = await startUpstream((_req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(String(body.length));
    });
    const gw = await startTestGateway(
      {
        routes: [
          {
            id: 'upload',
            match: { path: '/upload', method: 'POST' },
            auth: 'public',
            upstream: { service: 'files' },
          },
        ],
      },
      { files: [upstream.url] },
    );
    t.after(async () => {
      await gw.close();
      await upstream.close();
    });
    const payload = Buffer.alloc(300_000, 'x');
    const res = await request(`${gw.url}/upload`, { method: 'POST', body: payload });
    assert.equal(await res.body.text(), String(payload.length));
  });
});
