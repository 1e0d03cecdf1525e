import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { GatewayConfigInput } from './config.js';
import {
  deadUrl,
  hsToken,
  startTestGateway,
  startUpstream,
  TEST_SECRET,
  type TestUpstream,
} from './gateway.test-helpers.js';
import type { MigrationStatus } from './split.js';

const ADMIN = 'split-admin-token';

function named(name: string, body?: (url: string) => unknown) {
  return (req: { url?: string | undefined }, res: import('node:http').ServerResponse): void => {
    const text = JSON.stringify(body?.(req.url ?? '') ?? { side: name });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
}

async function sides(
  url: string,
  n: number,
  headers: (i: number) => Record<string, string> = () => ({}),
): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(url, { headers: headers(i) });
    assert.equal(res.statusCode, 200);
    out.push(((await res.body.json()) as { side: string }).side);
  }
  return out;
}

async function migration(gwUrl: string): Promise<MigrationStatus> {
  const res = await request(`${gwUrl}/__admin/migrations`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await res.body.json()) as MigrationStatus[])[0] as MigrationStatus;
}

/** Waits until the migration status satisfies `done` (shadow copies finish after the responses). */
async function until(gwUrl: string, done: (m: MigrationStatus) => boolean): Promise<MigrationStatus> {
  for (let i = 0; i < 200; i++) {
    const m = await migration(gwUrl);
    if (done(m)) return m;
    await delay(10);
  }
  return migration(gwUrl);
}

async function setup(
  t: { after: (fn: () => unknown) => void },
  split: Record<string, unknown>,
  candidateUrl?: string,
  extra: Partial<GatewayConfigInput> = {},
  auth: 'public' | { scopes: string[] } = 'public',
) {
  const legacy = await startUpstream(named('legacy'));
  t.after(() => legacy.close());
  const candidate = await startUpstream(named('candidate'));
  t.after(() => candidate.close());
  const gw = await startTestGateway(
    {
      auth: { jwt: { secret: TEST_SECRET } },
      ...extra,
      routes: [
        {
          id: 'orders',
          match: { path: '/orders/*' },
          auth,
          split: { legacy: { service: 'monolith' }, candidate: { service: 'order' }, ...split } as never,
        },
      ],
    },
    { monolith: [legacy.url], order: [candidateUrl ?? candidate.url] },
    { adminToken: ADMIN, accessLog: false },
  );
  t.after(() => gw.close());
  return { legacy, candidate, gw };
}

describe('traffic split through the gateway', () => {
  it('sends the configured share of anonymous traffic to the candidate', { timeout: 60_000 }, async (t) => {
    const { gw } = await setup(t, { weight: 30 });
    const seen = await sides(`${gw.url}/orders/1`, 1000);
    const share = seen.filter((s) => s === 'candidate').length / seen.length;
    // 4 standard deviations of a binomial(1000, 0.3): a false failure once in ~16000 runs.
    assert.ok(Math.abs(share - 0.3) < 0.058, `candidate share ${share}`);
    const status = await migration(gw.url);
    assert.deepEqual(status.requests, {
      legacy: seen.length - seen.filter((s) => s === 'candidate').length,
      candidate: seen.filter((s) => s === 'candidate').length,
    });
  });

  it('warns at load when a public route sticks by user, which it has none of', async (t) => {
    const warning = (gw: { logs: { lines: Record<string, unknown>[] } }) =>
      gw.logs.lines.filter((l) => String(l.msg).startsWith('split sticky by user on a public route'));
    const { gw } = await setup(t, { weight: 30 });
    assert.deepEqual(
      warning(gw).map((l) => [l.level, l.route]),
      [[40, 'orders']],
    );
    const byCookie = await setup(t, { weight: 30, sticky: { cookie: 'sid' } });
    assert.deepEqual(warning(byCookie.gw), []);
    const signedIn = await setup(t, { weight: 30 }, undefined, {}, { scopes: [] });
    assert.deepEqual(warning(signedIn.gw), []);
  });

  it('keeps a cookie, and an authenticated user, on one side', { timeout: 60_000 }, async (t) => {
    const { gw } = await setup(t, { weight: 50, sticky: { cookie: 'sid' } });
    const perCookie = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sides(`${gw.url}/orders/1`, 4, () => ({ cookie: `theme=dark; sid=session-${i}` })),
      ),
    );
    for (const s of perCookie) assert.equal(new Set(s).size, 1, `one cookie saw ${s.join(',')}`);
    const firsts = new Set(perCookie.map((s) => s[0]));
    assert.deepEqual([...firsts].sort(), ['candidate', 'legacy']);

    const byUser = await setup(t, { weight: 50 }, undefined, {}, { scopes: [] });
    const tokens = await Promise.all(
      Array.from({ length: 30 }, (_, i) => hsToken(TEST_SECRET, { sub: `user-${i}` })),
    );
    const perUser = await Promise.all(
      tokens.map((token) =>
        sides(`${byUser.gw.url}/orders/1`, 3, () => ({ authorization: `Bearer ${token}` })),
      ),
    );
    for (const s of perUser) assert.equal(new Set(s).size, 1);
    assert.equal(new Set(perUser.map((s) => s[0])).size, 2);
  });

  it('mirrors safe requests to the candidate after answering from legacy, and counts mismatches', {
    timeout: 60_000,
  }, async (t) => {
    let legacy!: TestUpstream;
    let candidate!: TestUpstream;
    legacy = await startUpstream(
      named('legacy', (url) => ({ id: url.split('/').at(-1), total: 10, generatedAt: Date.now() })),
    );
    t.after(() => legacy.close());
    candidate = await startUpstream(
      named('candidate', (url) => ({
        id: url.split('/').at(-1),
        total: url.endsWith('/2') ? 11 : 10,
        generatedAt: 'later',
      })),
    );
    t.after(() => candidate.close());
    const gw = await startTestGateway(
      {
        routes: [
          {
            id: 'orders',
            match: { path: '/orders/*' },
            auth: 'public',
            split: {
              legacy: { service: 'monolith' },
              candidate: { service: 'order', rewrite: '/v2/orders/*' },
              weight: 0,
              shadow: { ignore: ['$.generatedAt'] },
            },
          },
        ],
      },
      { monolith: [legacy.url], order: [candidate.url] },
      { adminToken: ADMIN, accessLog: false },
    );
    t.after(() => gw.close());
    for (let i = 0; i < 10; i++) {
      const res = await request(`${gw.url}/orders/1`);
      assert.equal(((await res.body.json()) as { total: number }).total, 10);
    }
    for (let i = 0; i < 5; i++) {
      const res = await request(`${gw.url}/orders/2`);
      assert.equal(((await res.body.json()) as { total: number }).total, 10, 'the client always gets legacy');
    }
    const posted = await request(`${gw.url}/orders/3`, { method: 'POST', body: '{}' });
    await posted.body.dump();
    const status = await until(gw.url, (m) => (m.shadow?.compared ?? 0) >= 15);
    assert.equal(status.shadow?.compared, 15);
    assert.equal(status.shadow?.mismatches, 5);
    const sample = status.shadow?.samples[0];
    assert.equal(sample?.path, '/orders/2');
    assert.deepEqual(
      sample?.differences.map((d) => d.path),
      ['$.total'],
    );
    assert.ok(
      candidate.requests.every((r) => r.method === 'GET' && r.url.startsWith('/v2/orders/')),
      'POST is not mirrored; the candidate rewrite applies',
    );
    assert.equal(candidate.requests.length, 15);
    assert.equal(candidate.requests[0]?.headers['x-flotilla-shadow'], '1');
  });

  it('rolls back to legacy by itself when the candidate dies', { timeout: 60_000 }, async (t) => {
    const { gw, legacy } = await setup(t, { weight: 50, guards: { breakerOpen: true } }, await deadUrl(), {
      upstreams: { order: { breakerThreshold: 3, maxAttempts: 1, halfOpenAfterMs: 60_000 } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 40 && (await migration(gw.url)).rolledBack === undefined; i++) {
      const res = await request(`${gw.url}/orders/${i}`);
      statuses.push(res.statusCode);
      await res.body.dump();
    }
    const status = await migration(gw.url);
    assert.equal(status.rolledBack?.guard, 'breakerOpen');
    assert.equal(status.weight, 0);
    assert.equal(status.configuredWeight, 50);
    assert.equal(statuses.filter((s) => s === 502).length, 3, 'three candidate failures open its breaker');
    const after = legacy.requests.length;
    const rest = await sides(`${gw.url}/orders/x`, 20);
    assert.deepEqual(new Set(rest), new Set(['legacy']));
    assert.equal(legacy.requests.length, after + 20);
    assert.ok(
      gw.logs.lines.some((l) => l.msg === 'migration rolled back to legacy' && l.guard === 'breakerOpen'),
    );
  });
});
