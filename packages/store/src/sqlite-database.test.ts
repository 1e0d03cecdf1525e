import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStore, type Store } from './open-store.js';
import { tempSqliteUrl } from './testing.js';

async function pragma(store: Store<unknown>, name: string): Promise<unknown> {
  const result = await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(store.db);
  return Object.values(result.rows[0] ?? {})[0];
}

describe('SQLite store', () => {
  it('creates missing parent folders of the database file', async (t) => {
    const temp = tempSqliteUrl('folders');
    t.after(() => temp.cleanup());
    const path = join(temp.dir, 'a', 'b', 'orders.db');
    const store = await openStore({ service: 'orders', url: `sqlite:${path}` });
    t.after(() => store.close());
    assert.ok(existsSync(path));
  });

  it('uses WAL, foreign keys, the busy timeout and synchronous=NORMAL by default', async (t) => {
    const temp = tempSqliteUrl('pragmas');
    t.after(() => temp.cleanup());
    const store = await openStore({ service: 'orders', url: temp.url });
    t.after(() => store.close());
    assert.equal(await pragma(store, 'journal_mode'), 'wal');
    assert.equal(await pragma(store, 'foreign_keys'), 1);
    assert.equal(await pragma(store, 'busy_timeout'), 5000);
    assert.equal(await pragma(store, 'synchronous'), 1);
  });

  it('applies synchronous=full and a custom busy timeout', async (t) => {
    const temp = tempSqliteUrl('pragmas');
    t.after(() => temp.cleanup());
    const store = await openStore({
      service: 'orders',
      url: temp.url,
      sqlite: { synchronous: 'full', busyTimeoutMs: 250 },
    });
    t.after(() => store.close());
    assert.equal(await pragma(store, 'synchronous'), 2);
    assert.equal(await pragma(store, 'busy_timeout'), 250);
  });

  it('enforces foreign keys', async (t) => {
    const store = await openStore<{ lines: { order_id: string } }>({
      service: 'orders',
      url: ':memory:',
      migrations: [
        {
          id: '1',
          up: 'create table orders (id text primary key); create table lines (order_id text references orders (id));',
        },
      ],
    });
    t.after(() => store.close());
    await assert.rejects(
      store.db.insertInto('lines').values({ order_id: 'missing' }).execute(),
      /FOREIGN KEY/,
    );
  });

  it('applies a migration with a trigger body as one statement, and the trigger works', async (t) => {
    const store = await openStore<{ orders: { id: string; total: number }; audit: { note: string } }>({
      service: 'orders',
      url: ':memory:',
      migrations: [
        {
          id: '0001_audit',
          up: `
            create table orders (id text primary key, total integer not null);
            create table audit (note text not null);
            -- a trigger body has its own semicolons
            create trigger orders_total after update of total on orders
            begin
              insert into audit (note) values ('total; ' || case when new.total > old.total then 'up' else 'down' end);
            end;`,
        },
      ],
    });
    t.after(() => store.close());
    await store.db.insertInto('orders').values({ id: 'o-1', total: 10 }).execute();
    await store.db.updateTable('orders').set({ total: 12 }).execute();
    assert.deepEqual(await store.db.selectFrom('audit').selectAll().execute(), [{ note: 'total; up' }]);
  });

  it('places the database under .flotilla/data/<service>.db when no url is given', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-default-url-'));
    const cwd = process.cwd();
    process.chdir(dir);
    t.after(() => {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    });
    const store = await openStore({ service: 'inventory' });
    await store.close();
    assert.ok(existsSync(join(dir, '.flotilla', 'data', 'inventory.db')));
  });

  it('rejects invalid SQLite options, naming the field, before creating anything', async (t) => {
    const temp = tempSqliteUrl('bad');
    t.after(() => temp.cleanup());
    const url = `sqlite:${join(temp.dir, 'never', 'x.db')}`;
    await assert.rejects(
      openStore({ service: 'orders', url, sqlite: { synchronous: 'off' as 'full' } }),
      /sqlite.synchronous must be 'normal' or 'full', got off/,
    );
    await assert.rejects(
      openStore({ service: 'orders', url, sqlite: { busyTimeoutMs: -1 } }),
      /sqlite.busyTimeoutMs must be an integer >= 0, got -1/,
    );
    assert.equal(existsSync(join(temp.dir, 'never')), false);
  });

  it('reports a file that cannot be opened with its path', async (t) => {
    const temp = tempSqliteUrl('dir');
    t.after(() => temp.cleanup());
    await assert.rejects(openStore({ service: 'orders', url: temp.dir }), (err: Error) => {
      assert.match(err.message, new RegExp(`cannot open SQLite database ${temp.dir}`));
      return true;
    });
  });
});
