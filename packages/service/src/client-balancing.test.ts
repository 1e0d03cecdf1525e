import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { createClients } from './client.js';
import { json, startServer, type TestServer, until } from './client.test-helpers.js';
import { discovery } from './discovery.js';
import { isUpstreamError } from './upstream-error.js';

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

/** A server that answers `{ name }` with 200. */
function named(name: string): Promise<TestServer> {
  return server((_req, res) => json(res, 200, { name }));
}

function topology(urls: Record<string, string[]>) {
  return discovery({
    env: {},
    topology: { services: Object.fromEntries(Object.entries(urls).map(([k, v]) => [k, { urls: v }])) },
  });
}

describe('ServiceClient load balancing', () => {
  it('spreads calls over every instance with round-robin', async (t) => {
    const [a, b, c] = await Promise.all([named('a'), named('b'), named('c')]);
    const clients = createClients({
      caller: 'order',
      discovery: topology({ inventory: [a.url, b.url, c.url] }),
      defaults: { loadBalancing: 'round-robin' },
    });
    t.after(() => clients.close());
    const inventory = clients.get('inventory');
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await inventory.get<{ name: string }>('/stock')).name);
    assert.deepEqual(names, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('sends calls to the instance with fewer calls in flight (least-outstanding)', async (t) => {
    const held: (() => void)[] = [];
    const slow = await server((_req, res) => {
      held.push(() => json(res, 200, { name: 'slow' }));
    });
    const fast = await named('fast');
    const clients = createClients({
      caller: 'order',
      discovery: topology({ inventory: [slow.url, fast.url] }),
      defaults: { loadBalancing: 'least-outstanding', retry: false },
    });
    t.after(() => clients.close());
    const inventory = clients.get('inventory');
    // Ten calls at once split five and five: each pick compares both instances.
    const first = Array.from({ length: 10 }, () => inventory.get<{ name: string }>('/stock'));
    await until(() => held.length === 5 && fast.requests.length === 5, 'both instances received five calls');
    await until(
      () => clients.snapshots()[0]?.instances.find((i) => i.url === fast.url)?.outstanding === 0,
      'the fast instance answered',
    );
    // The slow instance still holds five calls: every new call goes to the fast one.
    for (let i = 0; i < 10; i++) assert.equal((await inventory.get<{ name: string }>('/stock')).name, 'fast');
    assert.equal(slow.requests.length, 5);
    for (const release of held) release();
    const names = (await Promise.all(first)).map((r) => r.name).sort();
    assert.deepEqual(names, [...Array(5).fill('fast'), ...Array(5).fill('slow')]);
  });

  it('ejects an instance that keeps failing and brings it back after the ejection time', async (t) => {
    const clock = manualClock();
    let brokenAnswers = 500;
    const broken = await server((_req, res) =>
      json(res, brokenAnswers, { error: { code: 'BOOM', message: 'boom' } }),
    );
    const healthy = await named('healthy');
    const clients = createClients({
      caller: 'order',
      clock,
      discovery: topology({ payment: [broken.url, healthy.url] }),
      defaults: {
        loadBalancing: 'round-robin',
        retry: false,
        breaker: false,
        outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 30_000 },
      },
    });
    t.after(() => clients.close());
    const payment = clients.get('payment');
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++)
      outcomes.push(
        await payment.get<{ name: string }>('/x').then(
          (r) => r.name,
          (err: unknown) => (isUpstreamError(err) ? String(err.status) : 'other'),
        ),
      );
    assert.deepEqual(outcomes, ['500', 'healthy', '500', 'healthy', '500', 'healthy']);
    const ejected = clients.snapshots()[0]?.instances.find((i) => i.url === broken.url);
    assert.equal(ejected?.ejected, true);
    assert.equal(ejected?.ejectedUntilMs, 30_000);
    for (let i = 0; i < 4; i++) assert.equal((await payment.get<{ name: string }>('/x')).name, 'healthy');
    assert.equal(broken.requests.length, 3);

    brokenAnswers = 200;
    await clock.advance(30_000);
    for (let i = 0; i < 2; i++) await payment.get('/x');
    assert.equal(broken.requests.length, 4);
    assert.equal(
      clients.snapshots()[0]?.instances.some((i) => i.ejected),
      false,
    );
  });

  it('follows a service that a supervisor moves in the topology file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-client-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const [before, moved] = await Promise.all([named('before'), named('moved')]);
    const file = join(dir, 'topology.json');
    writeFileSync(file, JSON.stringify({ services: { shipping: { urls: [before.url] } } }));
    const found = discovery({ topology: file, env: {} });
    t.after(() => found.close?.());
    const clients = createClients({ caller: 'order', discovery: found });
    t.after(() => clients.close());
    const shipping = clients.get('shipping');
    assert.equal((await shipping.get<{ name: string }>('/x')).name, 'before');
    const changed = new Promise<void>((resolve) => found.onChange?.(() => resolve()));
    writeFileSync(`${file}.tmp`, JSON.stringify({ services: { shipping: { urls: [moved.url] } } }));
    renameSync(`${file}.tmp`, file);
    await changed;
    assert.equal((await shipping.get<{ name: string }>('/x')).name, 'moved');
    assert.deepEqual(
      clients.snapshots()[0]?.instances.map((i) => i.url),
      [moved.url],
    );
  });
});
