import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serviceTokens } from '@flotilla/service';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import {
  hsToken,
  startTestGateway,
  startUpstream,
  TEST_SECRET,
  TEST_SERVICE_KEY,
  type TestUpstream,
} from './gateway.test-helpers.js';

type ErrorBody = { error: { code: string; message: string; retryable: boolean } };

describe('JWT authentication with HS256', () => {
  let upstream: TestUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(
      {
        auth: { jwt: { secret: 'env:GATEWAY_JWT_SECRET', clockToleranceSec: 0 } },
        routes: [
          {
            id: 'orders-write',
            match: { path: '/orders', method: 'POST' },
            auth: { scopes: ['orders:write'] },
            upstream: { service: 'order' },
          },
          { id: 'orders-read', match: { path: '/orders' }, upstream: { service: 'order' } },
          { id: 'status', match: { path: '/status' }, auth: 'public', upstream: { service: 'order' } },
        ],
      },
      { order: [upstream.url] },
      { env: { GATEWAY_JWT_SECRET: TEST_SECRET }, serviceKey: TEST_SERVICE_KEY },
    );
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('lets a valid token through and signs its user into the service token', async () => {
    const token = await hsToken(TEST_SECRET, { sub: 'alice', scp: ['orders:read'] });
    const res = await request(`${gw.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const sent = String(upstream.requests.at(-1)?.headers.authorization).slice(7);
    const identity = await serviceTokens({ service: 'order', key: TEST_SERVICE_KEY }).verify(sent);
    assert.deepEqual(identity.user, { id: 'alice', scopes: ['orders:read'] });
  });

  it('answers 401 with a Bearer challenge without a token', async () => {
    const before = upstream.requests.length;
    const res = await request(`${gw.url}/orders`);
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="flotilla"');
    assert.equal(((await res.body.json()) as ErrorBody).error.code, 'UNAUTHENTICATED');
    assert.equal(upstream.requests.length, before);
  });

  it('refuses an expired token', async () => {
    const token = await hsToken(TEST_SECRET, { sub: 'alice' }, -60);
    const res = await request(`${gw.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    assert.deepEqual(await res.body.json(), {
      error: { code: 'TOKEN_EXPIRED', message: 'token expired', retryable: false },
    });
  });

  it('refuses a token signed with another key', async () => {
    const token = await hsToken('another-secret-that-is-also-32-bytes-long!!', { sub: 'mallory' });
    const res = await request(`${gw.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 401);
    assert.equal(((await res.body.json()) as ErrorBody).error.code, 'INVALID_TOKEN');
  });

  it('refuses garbage and other schemes', async () => {
    for (const header of ['Bearer not.a.jwt', 'Basic YWxpY2U6c2VjcmV0', 'Bearer']) {
      const res = await request(`${gw.url}/orders`, { headers: { authorization: header } });
      assert.equal(res.statusCode, 401, header);
      await res.body.dump();
    }
  });

  it('answers 403 INSUFFICIENT_SCOPE when a required scope is missing', async () => {
    const token = await hsToken(TEST_SECRET, { sub: 'bob', scope: 'orders:read' });
    const res = await request(`${gw.url}/orders`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.statusCode, 403);
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope", scope="orders:write"/);
    assert.equal(((await res.body.json()) as ErrorBody).error.code, 'INSUFFICIENT_SCOPE');
    const writer = await hsToken(TEST_SECRET, { sub: 'bob', scope: 'orders:read orders:write' });
    const ok = await request(`${gw.url}/orders`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${writer}` },
    });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
  });

  it('serves public routes without a token and never forwards the client authorization', async () => {
    const res = await request(`${gw.url}/status`, { headers: { authorization: 'Bearer whatever' } });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const sent = String(upstream.requests.at(-1)?.headers.authorization).slice(7);
    const identity = await serviceTokens({ service: 'order', key: TEST_SERVICE_KEY }).verify(sent);
    assert.equal(identity.user, undefined);
  });
});

describe('JWT authentication with RS256 from a JWKS', () => {
  it('verifies tokens against keys served by a JWKS endpoint', async (t) => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
    let fetches = 0;
    const jwks = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    jwks.listen(0, '127.0.0.1');
    await once(jwks, 'listening');
    t.after(() => jwks.close());
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      {
        auth: {
          jwt: {
            jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
            issuer: 'https://id.example',
            audience: 'shop',
          },
        },
        routes: [{ id: 'me', match: { path: '/me' }, upstream: { service: 'account' } }],
      },
      { account: [upstream.url] },
    );
    t.after(() => gw.close());
    const sign = (key: CryptoKey, claims: { iss?: string; aud?: string } = {}) =>
      new SignJWT({ scope: 'profile' })
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
        .setSubject('carol')
        .setIssuer(claims.iss ?? 'https://id.example')
        .setAudience(claims.aud ?? 'shop')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/me`, {
        headers: { authorization: `Bearer ${await sign(privateKey)}` },
      });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    }
    assert.equal(fetches, 1, 'the key set is fetched once and cached');
    const forged = await request(`${gw.url}/me`, {
      headers: { authorization: `Bearer ${await sign(other.privateKey)}` },
    });
    assert.equal(forged.statusCode, 401);
    assert.equal(((await forged.body.json()) as ErrorBody).error.code, 'INVALID_TOKEN');
    const wrongAudience = await request(`${gw.url}/me`, {
      headers: { authorization: `Bearer ${await sign(privateKey, { aud: 'admin' })}` },
    });
    assert.equal(wrongAudience.statusCode, 401);
    assert.match(((await wrongAudience.body.json()) as ErrorBody).error.message, /"aud"/);
  });
});
