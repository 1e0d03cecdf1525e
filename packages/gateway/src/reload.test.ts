import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import type { GatewayConfigInput } from './config.js';
import type { ReloadEvent } from './gateway.js';
import { startTestGateway, startUpstream } from './gateway.test-helpers.js';

const ADMIN = 'admin-token-for-tests';
const admin = { authorization: `Bearer ${ADMIN}` };

function configWith(version: number, timeoutMs = 5_000): GatewayConfigInput {
  return {
    upstreams: { echo: { timeoutMs } },
    routes: [
      {
        id: 'items',
        match: { path: '/items/*' },
        auth: 'public',
        upstream: { service: 'echo', headers: { set: { 'x-config-version': String(version) } } },
      },
      {
        id: 'migrating',
        match: { path: '/migrating' },
        auth: 'public',
        split: { legacy: { service: 'echo' }, candidate: { service: 'echo' }, weight: 10 },
      },
    ],
  };
}

function nextReload(gateway: {
  onReload(l: (e: ReloadEvent) => void): { dispose(): void };
}): Promise<ReloadEvent> {
  return new Promise((resolve) => {
    const subscription = gateway.onReload((event) => {
      subscription.dispose();
      resolve(event);
    });
  });
}

describe('configuration reloads', () => {
  it('reloads from the file and the admin API under load without failing a request', {
    timeout: 60_000,
  }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-gateway-reload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify(configWith(0)));
    const upstream = await startUpstream((req, res) => {
      const text = JSON.stringify({ version: req.headers['x-config-version'] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    t.after(() => upstream.close());
    const gw = await startTestGateway(
      file,
      { echo: [upstream.url] },
      { adminToken: ADMIN, accessLog: false },
    );
    t.after(() => gw.close());

    const statuses = new Map<number, number>();
    let stop = false;
    let sent = 0;
    const worker = async () => {
      while (!stop || sent < 400) {
        sent++;
        const res = await request(`${gw.url}/items/${sent}`);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        await res.body.dump();
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    for (let version = 1; version <= 10; version++) {
      // Every other change also moves the upstream's timeout: its pools and breaker are rebuilt.
      const next = configWith(version, version % 2 === 0 ? 4_000 : 5_000);
      const applied = nextReload(gw.gateway);
      if (version % 2 === 1) writeFileSync(file, JSON.stringify(next, null, version));
      else {
        const res = await request(`${gw.url}/__admin/config`, {
          method: 'PUT',
          headers: admin,
          body: JSON.stringify(next),
        });
        assert.equal(res.statusCode, 200, await res.body.text());
      }
      const event = await applied;
      assert.equal(event.type, 'applied');
    }
    stop = true;
    await load;
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
    assert.ok(sent >= 400);
    const last = await request(`${gw.url}/items/last`);
    assert.deepEqual(await last.body.json(), { version: '10' });
    assert.match(await gw.gateway.metrics(), /flotilla_gateway_config_reloads_total\{result="applied"\} 11/);
  });

  it('refuses a bad configuration from the file or the admin API and keeps the old one', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-gateway-reload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify(configWith(1)));
    const upstream = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: req.headers['x-config-version'] }));
    });
    t.after(() => upstream.close());
    const gw = await startTestGateway(file, { echo: [upstream.url] }, { adminToken: ADMIN });
    t.after(() => gw.close());

    const rejected = nextReload(gw.gateway);
    writeFileSync(
      file,
      JSON.stringify({
        routes: [
          { id: 'bad', match: { path: '/x' }, auth: 'public', upstream: { service: 'echo' }, weight: 3 },
        ],
      }),
    );
    const event = await rejected;
    assert.equal(event.type, 'rejected');
    assert.deepEqual(event.type === 'rejected' ? event.issues : [], [
      { path: 'routes[0].weight', message: 'unknown key' },
    ]);
    const still = await request(`${gw.url}/items/1`);
    assert.deepEqual(await still.body.json(), { version: '1' });

    const put = await request(`${gw.url}/__admin/config`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({
        routes: [
          {
            id: 'x',
            match: { path: '/x' },
            auth: 'public',
            split: { legacy: { service: 'a' }, candidate: { service: 'b' }, weight: 101 },
          },
        ],
      }),
    });
    assert.equal(put.statusCode, 400);
    const body = (await put.body.json()) as {
      error: { code: string; details: { path: string; message: string }[] };
    };
    assert.equal(body.error.code, 'CONFIG_INVALID');
    assert.deepEqual(body.error.details, [
      { path: 'routes[0].split.weight', message: 'too big: expected number to be <=100, got 101' },
    ]);
    const config = await request(`${gw.url}/__admin/config`, { headers: admin });
    assert.equal(((await config.body.json()) as { routes: { id: string }[] }).routes[0]?.id, 'items');
    assert.match(await gw.gateway.metrics(), /flotilla_gateway_config_reloads_total\{result="rejected"\} 2/);
  });
});

describe('admin API', () => {
  it('needs the admin token and does not exist without one', async (t) => {
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const gw = await startTestGateway(configWith(1), { echo: [upstream.url] }, { adminToken: ADMIN });
    t.after(() => gw.close());
    const none = await request(`${gw.url}/__admin/routes`);
    assert.equal(none.statusCode, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="flotilla-admin"');
    await none.body.dump();
    const wrong = await request(`${gw.url}/__admin/routes`, {
      headers: { authorization: 'Bearer admin-token-for-test' },
    });
    assert.equal(wrong.statusCode, 401);
    await wrong.body.dump();
    const closed = await startTestGateway(configWith(1), { echo: [upstream.url] });
    t.after(() => closed.close());
    const disabled = await request(`${closed.url}/__admin/routes`, { headers: admin });
    assert.equal(disabled.statusCode, 404);
    await disabled.body.dump();
  });

  it('reports routes and upstreams, and sets migration weights that survive unrelated reloads', async (t) => {
    const upstream = await startUpstream();
    t.after(() => upstream.close());
    const gw = await startTestGateway(configWith(1), { echo: [upstream.url] }, { adminToken: ADMIN });
    t.after(() => gw.close());
    const routes = (await (await request(`${gw.url}/__admin/routes`, { headers: admin })).body.json()) as {
      id: string;
      kind: string;
    }[];
    assert.deepEqual(
      routes.map((r) => [r.id, r.kind]),
      [
        ['items', 'upstream'],
        ['migrating', 'split'],
      ],
    );
    const ok = await request(`${gw.url}/items/1`);
    await ok.body.dump();
    const upstreams = (await (
      await request(`${gw.url}/__admin/upstreams`, { headers: admin })
    ).body.json()) as {
      service: string;
      breaker: string;
      settings: { timeoutMs: number };
      instances: { url: string }[];
    }[];
    assert.equal(upstreams.length, 1);
    assert.equal(upstreams[0]?.service, 'echo');
    assert.equal(upstreams[0]?.breaker, 'closed');
    assert.equal(upstreams[0]?.instances[0]?.url, upstream.url);

    const set = await request(`${gw.url}/__admin/migrations/migrating/weight`, {
      method: 'PUT',
      headers: admin,
      body: '{"weight":40}',
    });
    assert.equal(set.statusCode, 200);
    assert.equal(((await set.body.json()) as { weight: number }).weight, 40);
    const bad = await request(`${gw.url}/__admin/migrations/migrating/weight`, {
      method: 'PUT',
      headers: admin,
      body: '{"weight":400}',
    });
    assert.equal(bad.statusCode, 400);
    await bad.body.dump();
    const missing = await request(`${gw.url}/__admin/migrations/items/weight`, {
      method: 'PUT',
      headers: admin,
      body: '{"weight":4}',
    });
    assert.equal(missing.statusCode, 404);
    await missing.body.dump();

    await gw.gateway.reload(configWith(2));
    const kept = (await (await request(`${gw.url}/__admin/migrations`, { headers: admin })).body.json()) as {
      routeId: string;
      weight: number;
    }[];
    assert.deepEqual(
      kept.map((m) => [m.routeId, m.weight]),
      [['migrating', 40]],
    );
    const changed = configWith(3);
    const split = changed.routes[1]?.split;
    if (split !== undefined) split.weight = 20;
    await gw.gateway.reload(changed);
    const reset = (await (await request(`${gw.url}/__admin/migrations`, { headers: admin })).body.json()) as {
      weight: number;
    }[];
    assert.equal(reset[0]?.weight, 20);
  });
});
