import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { fixtureEntry, freePorts, runCli, temporaryDirectory } from './fixtures/harness.js';
import { loadSystem } from './load-system.js';
import { type RunningSystem, startSystem } from './start-system.js';
import { breakersOf, gatewayBreakersOf, queuesOf, systemStatus } from './system-status.js';
import { formatUptime, renderTable } from './table.js';
import type { System } from './validate-system.js';

describe('breakersOf', () => {
  it('finds the circuit breaker inside each upstream pipeline of /internal/policies', () => {
    const policies = {
      upstreams: [
        {
          service: 'payment',
          policy: {
            kind: 'pipeline',
            policies: [{ kind: 'retry' }, { kind: 'circuit-breaker', state: 'open' }, { kind: 'timeout' }],
          },
        },
        { service: 'inventory', policy: { kind: 'circuit-breaker', state: 'closed' } },
        { service: 'legacy', policy: { kind: 'timeout' } },
      ],
    };
    assert.deepEqual(breakersOf(policies), { payment: 'open', inventory: 'closed' });
    assert.deepEqual(breakersOf(undefined), {});
    assert.deepEqual(breakersOf({ upstreams: 'x' }), {});
  });
});

describe('gatewayBreakersOf', () => {
  it("maps each upstream of the gateway's /__admin/upstreams to its breaker state", () => {
    assert.deepEqual(
      gatewayBreakersOf([
        { service: 'payment', breaker: 'open', instances: [] },
        { service: 'inventory', breaker: 'half-open' },
        { service: 'legacy' },
        null,
      ]),
      { payment: 'open', inventory: 'half-open' },
    );
    assert.deepEqual(gatewayBreakersOf({ error: { code: 'UNAUTHENTICATED' } }), {});
    assert.deepEqual(gatewayBreakersOf(undefined), {});
  });
});

describe('queuesOf', () => {
  it('reads queue depths from /internal/info when a service reports them', () => {
    assert.deepEqual(
      queuesOf({ name: 'order', queues: { outbox: 3, 'saga-steps': { depth: 7 }, bad: 'x' } }),
      {
        outbox: 3,
        'saga-steps': 7,
      },
    );
    assert.deepEqual(queuesOf({ name: 'order' }), {});
  });
});

describe('renderTable', () => {
  it('pads columns to the widest cell, ignoring colour codes', () => {
    assert.equal(
      renderTable(
        ['SERVICE', 'STATE'],
        [
          ['order', '\u001b[32mready\u001b[39m'],
          ['notification', 'crashed'],
        ],
      ),
      'SERVICE       STATE\norder         \u001b[32mready\u001b[39m\nnotification  crashed',
    );
  });

  it('formats uptimes briefly', () => {
    assert.deepEqual([null, 42_000, 185_000, 3_720_000].map(formatUptime), ['-', '42s', '3m05s', '1h02m']);
  });
});

const statusCli = (args: readonly string[]) => runCli(['status', ...args]);

describe("systemStatus of a system with a gateway: the gateway's breakers from its admin API", () => {
  const tmp = temporaryDirectory();
  let system: System;
  let running: RunningSystem;
  let file: string;
  /** The same system (same ports) with a data directory flotilla up never wrote: no secrets.json. */
  let unsupervisedFile: string;

  before(async () => {
    const [catalogPort, gatewayPort, closedPort] = await freePorts(3);
    const definition = (dataDir: string) => ({
      name: 'gateway-status',
      dataDir,
      controlPort: 0,
      gateway: 'gateway',
      services: [
        { name: 'catalog', entry: fixtureEntry('catalog.ts'), port: catalogPort },
        {
          name: 'gateway',
          entry: fixtureEntry('gateway.ts'),
          port: gatewayPort,
          dependsOn: ['catalog'],
          // Nothing listens there: the gateway's call to vault is refused.
          env: { FLOTILLA_VAULT_URL: `http://127.0.0.1:${closedPort}` },
        },
      ],
    });
    file = join(tmp.dir, 'flotilla.system.json');
    unsupervisedFile = join(tmp.dir, 'elsewhere.system.json');
    writeFileSync(file, JSON.stringify(definition('data')));
    writeFileSync(unsupervisedFile, JSON.stringify(definition('no-data')));
    system = await loadSystem(file);
    running = await startSystem(system, { write: () => {}, colour: false, pretty: false });
    const gateway = running.plan.services.find((s) => s.name === 'gateway')!.instances[0]!.url;
    // The gateway answers once the attempt has failed, so vault's breaker (threshold 1) is open by then.
    const item = await request(`${gateway}/items/1`);
    assert.equal(item.statusCode, 200, await item.body.text());
    const vault = await request(`${gateway}/vault`);
    await vault.body.text();
    assert.ok(vault.statusCode >= 500, `vault answered ${vault.statusCode}`);
  });
  after(async () => {
    await running?.stop();
    tmp.remove();
  });

  it("lists the gateway's upstream breakers, read with the token flotilla up keeps in the data directory", async () => {
    const status = await systemStatus(system, { env: {} });
    assert.equal(status.supervised, true);
    const gateway = status.services.find((s) => s.service === 'gateway')!;
    assert.equal(gateway.health, 'ready');
    assert.deepEqual(gateway.breakers, { catalog: 'closed', vault: 'open' });
    // Other services keep their /internal/policies breakers (catalog calls nothing).
    assert.deepEqual(status.services.find((s) => s.service === 'catalog')?.breakers, {});
  });

  it('shows them in the BREAKERS column of flotilla status, and prints no token', async () => {
    const table = await statusCli([file]);
    assert.equal(table.code, 0, table.err);
    assert.match(
      table.out,
      /^gateway +http:\/\/127\.0\.0\.1:\d+ +ready +ready +\d+ +0 +\S+ +catalog=closed vault=open +-$/m,
    );
    const json = await statusCli([file, '--json']);
    assert.equal(json.code, 0, json.err);
    const token = running.secrets.FLOTILLA_ADMIN_TOKEN!;
    for (const out of [table.out, table.err, json.out, json.err]) assert.ok(!out.includes(token));
  });

  it('uses an explicit token first, then FLOTILLA_ADMIN_TOKEN; a refused one (401) leaves them out', async () => {
    const token = running.secrets.FLOTILLA_ADMIN_TOKEN!;
    const gatewayOf = (s: Awaited<ReturnType<typeof systemStatus>>) =>
      s.services.find((i) => i.service === 'gateway')!;
    const refused = await systemStatus(system, { adminToken: 'not-the-token', env: {} });
    assert.equal(gatewayOf(refused).health, 'ready');
    assert.deepEqual(gatewayOf(refused).breakers, {});
    const refusedEnv = await systemStatus(system, { env: { FLOTILLA_ADMIN_TOKEN: 'not-the-token' } });
    assert.deepEqual(gatewayOf(refusedEnv).breakers, {});
    const fromEnv = await systemStatus(system, { env: { FLOTILLA_ADMIN_TOKEN: token } });
    assert.deepEqual(gatewayOf(fromEnv).breakers, { catalog: 'closed', vault: 'open' });
    const table = await statusCli([file, '--token', 'not-the-token']);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^gateway +http:\S+ +ready +ready +\d+ +0 +\S+ +- +-$/m);
  });

  it('without any token the gateway shows no breakers, and status does not fail', async () => {
    const elsewhere = await loadSystem(unsupervisedFile);
    const unsupervised = await systemStatus(elsewhere, { env: {} });
    assert.equal(unsupervised.supervised, false);
    const gateway = unsupervised.services.find((s) => s.service === 'gateway')!;
    assert.equal(gateway.health, 'ready');
    assert.deepEqual(gateway.breakers, {});
    const table = await statusCli([unsupervisedFile]);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /flotilla up is not running/);
    assert.match(table.out, /^gateway +http:\S+ +- +ready +- +- +- +- +-$/m);
  });
});
