// The whole shop end to end in its distributed profile (`flotilla up --profile distributed`): a
// PostgreSQL database per service, events on NATS JetStream, two instances of order and of
// inventory. The databases and the stream are this run's own and are removed afterwards. Skipped,
// loudly, without PostgreSQL or NATS — except under CI, where that fails.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testPgUrl } from '@flotilla/store/testing';
import pg from 'pg';
import { orderScenarios } from './order-scenarios.js';
import { distributedUnavailable, type Shop, startShop } from './shop-harness.js';

const skip = await distributedUnavailable();

describe('the shop, distributed', { skip: skip ?? false }, () => {
  let shop: Shop | undefined;
  const current = (): Shop => {
    if (shop === undefined) throw new Error('the shop did not start');
    return shop;
  };

  before(async () => {
    shop = await startShop({ mode: 'distributed' });
  });
  after(async () => {
    await shop?.close();
  });

  it('runs every service but the gateway on a PostgreSQL database of its own, created at its first start', async () => {
    const s = current();
    const services = s.running.plan.services.map((p) => p.name).filter((n) => n !== 'gateway');
    assert.deepEqual(Object.keys(s.databases).sort(), services.map((n) => n.toUpperCase()).sort());
    const names = Object.values(s.databases).map((url) => new URL(url).pathname.slice(1));
    assert.equal(new Set(names).size, names.length);
    const client = new pg.Client({ connectionString: testPgUrl() });
    await client.connect();
    try {
      const found = await client.query<{ datname: string }>(
        'select datname from pg_database where datname = any($1)',
        [names],
      );
      assert.deepEqual(found.rows.map((r) => r.datname).sort(), [...names].sort());
    } finally {
      await client.end();
    }
    // Nobody made them beforehand: each service's start created its own (once, however many instances raced).
    for (const name of names)
      assert.match(
        s.output(100_000),
        new RegExp(`"database":"${name}"`),
        `no service reported creating ${name}`,
      );
  });

  it('runs two instances of order and of inventory', () => {
    const s = current();
    for (const service of ['order', 'inventory'])
      assert.deepEqual(
        s.running.services.filter((i) => i.service === service).map((i) => `${i.instance} ${i.state}`),
        ['0 ready', '1 ready'],
      );
  });

  describe('orders', () => orderScenarios(current));
});
