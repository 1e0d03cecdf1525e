import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { dialectEnvironment } from './fixtures/dialects.js';
import { openStore, type Store } from './open-store.js';
import { loadPg } from './pg-module.js';
import { StatementNames } from './prepared-statements.js';
import { queryDatabase, requirePg } from './testing.js';

describe('StatementNames', () => {
  it('names a text on its second sighting and keeps the name', () => {
    const names = new StatementNames(10);
    assert.equal(names.nameFor('select $1'), undefined);
    const name = names.nameFor('select $1');
    assert.equal(typeof name, 'string');
    assert.equal(names.nameFor('select $1'), name);
    assert.equal(names.nameFor('select $2'), undefined);
    const other = names.nameFor('select $2');
    assert.notEqual(other, name);
    assert.equal(names.size, 2);
  });

  it('names at most `limit` texts and none with a limit of 0', () => {
    const names = new StatementNames(2);
    for (const text of ['a', 'a', 'b', 'b', 'c', 'c', 'c']) names.nameFor(text);
    assert.equal(names.size, 2);
    assert.equal(names.nameFor('c'), undefined);
    assert.notEqual(names.nameFor('a'), undefined);
    const none = new StatementNames(0);
    for (let i = 0; i < 5; i++) assert.equal(none.nameFor('a'), undefined);
    assert.equal(none.size, 0);
  });

  it('gives a renewed text a name never used before, and ignores unnamed texts', () => {
    const names = new StatementNames(10);
    names.nameFor('a');
    const first = names.nameFor('a');
    names.renew('a');
    const second = names.nameFor('a');
    assert.notEqual(second, first);
    names.nameFor('b');
    assert.notEqual(names.nameFor('b'), first);
    names.renew('unseen');
    assert.equal(names.nameFor('unseen'), undefined);
  });
});

const pg = await requirePg();

describe('prepared statements on PostgreSQL', { skip: pg.skip }, () => {
  const env = dialectEnvironment('postgres', 'store_prep');
  /** Runs `select $1::int + 1` three times, and one without parameters twice, and lists the connection's prepared statements. */
  async function preparedAfterRepeats(store: Store<unknown>) {
    return store.transaction(async (tx) => {
      for (let i = 1; i <= 3; i++) {
        const { rows } = await sql<{ v: number }>`select ${i}::int + 1 as v`.execute(tx);
        assert.deepEqual(rows, [{ v: i + 1 }]);
      }
      await sql`select 1 as fixed`.execute(tx);
      await sql`select 1 as fixed`.execute(tx);
      const { rows } = await sql<{
        statement: string;
      }>`select statement from pg_prepared_statements order by statement`.execute(tx);
      return rows.map((r) => r.statement);
    });
  }

  it('prepares a repeated parameterised statement once per connection, and nothing without parameters', async (t) => {
    const store = await env.open(t, { service: 'prep', url: env.freshUrl('prep'), pool: { max: 1 } });
    const prepared = await preparedAfterRepeats(store);
    assert.ok(prepared.includes('select $1::int + 1 as v'), prepared.join('\n'));
    assert.ok(!prepared.some((s) => s.includes('fixed')), prepared.join('\n'));
  });

  it('prepares nothing with preparedStatements: 0', async (t) => {
    const store = await env.open(t, {
      service: 'prep_off',
      url: env.freshUrl('prep_off'),
      pool: { max: 1, preparedStatements: 0 },
    });
    assert.deepEqual(await preparedAfterRepeats(store), []);
  });

  it('fails once when a table changes under a prepared select *, then prepares it again', async (t) => {
    const url = env.freshUrl('prep_alter');
    const store = await env.open(t, {
      service: 'prep_alter',
      url,
      pool: { max: 1 },
      migrations: [
        {
          id: '0001_items',
          up: "create table items (id int primary key, name text); insert into items values (1, 'tea')",
        },
      ],
    });
    const read = () => sql`select * from items where id = ${1}`.execute(store.db);
    await read();
    assert.deepEqual((await read()).rows, [{ id: 1, name: 'tea' }]);
    // Another instance's migration: the same table changed from a connection of its own.
    const admin = new URL(url);
    const schema = admin.searchParams.get('schema');
    admin.searchParams.delete('schema');
    await queryDatabase(
      admin.toString(),
      `alter table ${schema}.items add column colour text default 'green'`,
    );
    await assert.rejects(read(), /cached plan must not change result type/);
    assert.deepEqual((await read()).rows, [{ id: 1, name: 'tea', colour: 'green' }]);
    assert.deepEqual((await read()).rows, [{ id: 1, name: 'tea', colour: 'green' }]);
  });

  it('lets instrumentation that patches pg.Client.prototype.query later see prepared statements', async (t) => {
    const store = await env.open(t, {
      service: 'prep_seen',
      url: env.freshUrl('prep_seen'),
      pool: { max: 1 },
    });
    await sql`select ${1}::int as v`.execute(store.db);
    const Client = (loadPg() as unknown as { Client: { prototype: { query: (...a: unknown[]) => unknown } } })
      .Client;
    const original = Client.prototype.query;
    const seen: unknown[] = [];
    Client.prototype.query = function recorded(this: unknown, ...args: unknown[]) {
      seen.push(args[0]);
      return original.apply(this, args);
    };
    t.after(() => {
      Client.prototype.query = original;
    });
    await sql`select ${2}::int as v`.execute(store.db);
    assert.equal(seen.length, 1);
    assert.equal((seen[0] as { text?: string; name?: string }).text, 'select $1::int as v');
    assert.equal(typeof (seen[0] as { name?: string }).name, 'string');
  });

  it('rejects a negative preparedStatements, naming the field', async () => {
    await assert.rejects(
      openStore({ service: 'prep_bad', url: env.freshUrl('prep_bad'), pool: { preparedStatements: -1 } }),
      /pool\.preparedStatements must be an integer >= 0, got -1/,
    );
  });
});
