import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { hsToken, startTestGateway, startUpstream, TEST_SECRET } from './gateway.test-helpers.js';

const REDIS_URL = process.env.FLOTILLA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisReachable(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
const redisSkip =
  (await redisReachable()) || process.env.CI !== undefined ? false : `Redis not reachable at ${REDIS_URL}`;

describe('rate limits in memory', () => {
  it('limits each consumer separately and answers 429 with Retry-After and RateLimit headers', async (t) => {
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      {
        auth: { jwt: { secret: TEST_SECRET } },
        routes: [
          {
            id: 'search',
            match: { path: '/search' },
            rateLimit: { perConsumer: { ratePerSecond: 0.01, burst: 3 } },
            upstream: { service: 'search' },
          },
        ],
      },
      { search: [upstream.url] },
    );
    t.after(() => gw.close());
    const alice = { authorization: `Bearer ${await hsToken(TEST_SECRET, { sub: 'alice' })}` };
    const bob = { authorization: `Bearer ${await hsToken(TEST_SECRET, { sub: 'bob' })}` };
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/search`, { headers: alice });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['ratelimit-limit'], '3');
      remaining.push(String(res.headers['ratelimit-remaining']));
      await res.body.dump();
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    const refused = await request(`${gw.url}/search`, { headers: alice });
    assert.equal(refused.statusCode, 429);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal(refused.headers['ratelimit-remaining'], '0');
    assert.ok(Number(refused.headers['ratelimit-reset']) > 0);
    assert.equal(((await refused.body.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
    const other = await request(`${gw.url}/search`, { headers: bob });
    assert.equal(other.statusCode, 200);
    await other.body.dump();
    assert.equal(upstream.requests.length, 4);
    assert.match(
      await gw.gateway.metrics(),
      /flotilla_gateway_rate_limited_total\{route="search",scope="consumer"\} 1/,
    );
  });

  it('limits a route as a whole, by client address for anonymous consumers', async (t) => {
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      {
        routes: [
          {
            id: 'status',
            match: { path: '/status' },
            auth: 'public',
            rateLimit: {
              perRoute: { ratePerSecond: 0.01, burst: 2 },
              perConsumer: { ratePerSecond: 0.01, burst: 5 },
            },
            upstream: { service: 'status' },
          },
        ],
      },
      { status: [upstream.url] },
    );
    t.after(() => gw.close());
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(`${gw.url}/status`);
      statuses.push(res.statusCode);
      await res.body.dump();
    }
    assert.deepEqual(statuses, [200, 200, 429, 429]);
  });
});

describe('rate limits in Redis', { skip: redisSkip }, () => {
  it('holds the combined allowance across two gateway processes sharing one prefix', {
    timeout: 60_000,
  }, async (t) => {
    const prefix = `flotilla:test:${randomUUID()}:`;
    const redis = new Redis(REDIS_URL);
    t.after(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const config = {
      rateLimit: { store: { redis: REDIS_URL } },
      routes: [
        {
          id: 'shared',
          match: { path: '/shared' },
          auth: 'public',
          rateLimit: { perRoute: { ratePerSecond: 0.01, burst: 10 } },
          upstream: { service: 'echo' },
        },
      ],
    };
    const children: ChildProcess[] = [];
    t.after(() => {
      for (const child of children) child.kill('SIGTERM');
    });
    const urls = await Promise.all(
      [0, 1].map(async () => {
        const child = spawn(
          process.execPath,
          [
            '--conditions=source',
            '--import',
            'tsx',
            fileURLToPath(new URL('./fixtures/gateway-child.ts', import.meta.url)),
            JSON.stringify(config),
          ],
          {
            env: { ...process.env, FLOTILLA_ECHO_URL: upstream.url, GATEWAY_REDIS_PREFIX: prefix },
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        children.push(child);
        const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
        return (JSON.parse(line.toString('utf8')) as { url: string }).url;
      }),
    );
    let allowed = 0;
    let refused = 0;
    await Promise.all(
      urls.map(async (url) => {
        for (let i = 0; i < 15; i++) {
          const res = await request(`${url}/shared`);
          if (res.statusCode === 200) allowed++;
          else if (res.statusCode === 429) refused++;
          await res.body.dump();
        }
      }),
    );
    assert.equal(allowed, 10, 'the two gateways together allow the burst once');
    assert.equal(refused, 20);
    assert.equal(upstream.requests.length, 10);
  });

  it('fails open when Redis is unreachable, with a warning and a metric', async (t) => {
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      {
        rateLimit: { store: { redis: 'redis://127.0.0.1:1' } },
        routes: [
          {
            id: 'open',
            match: { path: '/open' },
            auth: 'public',
            rateLimit: { perRoute: { ratePerSecond: 0.01, burst: 1 } },
            upstream: { service: 'echo' },
          },
        ],
      },
      { echo: [upstream.url] },
    );
    t.after(() => gw.close());
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/open`);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['ratelimit-limit'], undefined);
      await res.body.dump();
    }
    assert.match(await gw.gateway.metrics(), /flotilla_gateway_rate_limit_store_errors_total 3/);
    assert.equal(gw.logs.lines.filter((l) => String(l.msg).includes('fail open')).length, 1);
  });
});
