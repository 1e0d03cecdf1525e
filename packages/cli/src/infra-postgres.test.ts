import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requirePg, testPgUrl } from '@flotilla/store/testing';
import pg from 'pg';
import { isChaosInfraError } from './infra-errors.js';
import {
  createDatabases,
  dropDatabases,
  isolateDatabases,
  isolatedName,
  systemDatabases,
  terminateConnections,
} from './infra-postgres.js';
import { validateSystem } from './validate-system.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-infra-pg-'));
mkdirSync(join(dir, 'svc'));
writeFileSync(join(dir, 'svc', 'main.js'), '');

/** A system whose services name databases on `server` (`postgres://…:5432`, no path). */
function systemOn(server: string, prefix: string) {
  return validateSystem(
    {
      name: 'demo',
      services: [
        { name: 'order', entry: 'svc/main.js', port: 7001, env: { DB: `${server}/${prefix}_order` } },
        {
          name: 'payment',
          entry: 'svc/main.js',
          instances: [{ port: 7002 }, { port: 7012 }],
          env: { DB: `${server}/${prefix}_shared?schema=payment` },
        },
        {
          name: 'ledger',
          entry: 'svc/main.js',
          port: 7003,
          env: { DB: `${server}/${prefix}_shared?schema=ledger` },
        },
        {
          name: 'cache',
          entry: 'svc/main.js',
          port: 7004,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder the supervisor expands
          env: { DB: 'sqlite:${dataDir}/cache.db' },
        },
      ],
    },
    { baseDir: dir },
  );
}

describe('systemDatabases and isolateDatabases', () => {
  it('finds each named PostgreSQL database once, with every service that names it', () => {
    const databases = systemDatabases(systemOn('postgres://app:pw@db.local:5433', 'shop').plan());
    assert.deepEqual(databases, [
      {
        database: 'shop_order',
        connectionString: 'postgres://app:pw@db.local:5433/shop_order',
        display: 'db.local:5433/shop_order',
        services: ['order'],
      },
      {
        database: 'shop_shared',
        connectionString: 'postgres://app:pw@db.local:5433/shop_shared',
        display: 'db.local:5433/shop_shared',
        services: ['payment', 'ledger'],
      },
    ]);
  });

  it("renames every database to the run's own, keeping shared ones shared", () => {
    const { system, databases } = isolateDatabases(
      systemOn('postgres://app@db.local', 'shop'),
      'chaos_x1',
      undefined,
    );
    const env = (service: string) =>
      system.plan().services.find((s) => s.name === service)?.instances[0]?.env.DB;
    assert.equal(env('order'), 'postgres://app@db.local/shop_order_chaos_x1');
    assert.equal(env('payment'), 'postgres://app@db.local/shop_shared_chaos_x1?schema=payment');
    assert.equal(env('ledger'), 'postgres://app@db.local/shop_shared_chaos_x1?schema=ledger');
    assert.equal(env('cache'), `sqlite:${system.dataDir}/cache.db`);
    assert.deepEqual(
      databases.map((d) => [d.database, d.services]),
      [
        ['shop_order_chaos_x1', ['order']],
        ['shop_shared_chaos_x1', ['payment', 'ledger']],
      ],
    );
  });

  it('keeps isolated names within 63 bytes, distinct for distinct databases', () => {
    const long = 'a'.repeat(60);
    const a = isolatedName(`${long}_order`, 'chaos_mwyv1234abcd');
    const b = isolatedName(`${long}_other`, 'chaos_mwyv1234abcd');
    assert.ok(Buffer.byteLength(a) <= 63, a);
    assert.ok(a.endsWith('_chaos_mwyv1234abcd'), a);
    assert.notEqual(a, b);
    assert.equal(isolatedName('shop_order', 'chaos_1'), 'shop_order_chaos_1');
  });
});

const pgReady = await requirePg();

describe('terminateConnections', { skip: pgReady.skip }, () => {
  it("creates the run's databases, terminates the connections to one, and drops them", async (t) => {
    const server = new URL(testPgUrl());
    server.pathname = '';
    const tag = `chaos_${randomBytes(4).toString('hex')}`;
    const { databases } = isolateDatabases(
      systemOn(server.toString().replace(/\/$/, ''), 'infra'),
      tag,
      undefined,
    );
    t.after(() => dropDatabases(databases));
    await createDatabases(databases);
    await createDatabases(databases); // again: they exist, which is fine

    const order = databases.find((d) => d.services.includes('order'));
    assert.ok(order !== undefined);
    const victims = await Promise.all(
      [1, 2].map(async () => {
        const client = new pg.Client({ connectionString: order.connectionString });
        const errors: Error[] = [];
        client.on('error', (err) => errors.push(err));
        await client.connect();
        return { client, errors };
      }),
    );
    const bystander = new pg.Client({ connectionString: databases[1]?.connectionString });
    bystander.on('error', () => {});
    await bystander.connect();
    t.after(() => bystander.end().catch(() => {}));

    assert.equal(await terminateConnections(order), 2);
    for (const victim of victims) {
      await assert.rejects(victim.client.query('select 1'));
      await victim.client.end().catch(() => {});
    }
    // Only that database's sessions: the other one's stays.
    assert.deepEqual((await bystander.query('select 1 as v')).rows, [{ v: 1 }]);
    assert.equal(await terminateConnections(order), 0);

    await bystander.end();
    await dropDatabases(databases);
    const admin = new pg.Client({ connectionString: testPgUrl() });
    await admin.connect();
    try {
      const { rows } = await admin.query('select datname from pg_database where datname = any($1)', [
        databases.map((d) => d.database),
      ]);
      assert.deepEqual(rows, []);
    } finally {
      await admin.end();
    }
  });

  it('names the database when it cannot reach it', async () => {
    const server = new URL(testPgUrl());
    server.pathname = '/flotilla_no_such_database_here';
    await assert.rejects(
      terminateConnections({
        database: 'flotilla_no_such_database_here',
        connectionString: server.toString(),
        display: `${server.host}/flotilla_no_such_database_here`,
        services: ['order'],
      }),
      (err: Error) => {
        assert.ok(isChaosInfraError(err));
        assert.match(
          err.message,
          /could not terminate the connections to .*\/flotilla_no_such_database_here: /,
        );
        return true;
      },
    );
  });
});
