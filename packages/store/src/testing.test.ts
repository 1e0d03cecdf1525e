import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadPg } from './pg-module.js';
import { createTestDatabase, pgAvailable, requirePg, tempSqliteUrl, testPgUrl } from './testing.js';

const UNREACHABLE = 'postgres://postgres:secret@127.0.0.1:1/postgres';
const pg = await requirePg();

async function databaseExists(name: string): Promise<boolean> {
  const client = new (loadPg().Client)({ connectionString: testPgUrl() });
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rows.length === 1;
  } finally {
    await client.end();
  }
}

function withCi<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  return fn().finally(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  });
}

describe('tempSqliteUrl', () => {
  it('gives a sqlite: URL in a fresh temp folder and removes the folder on cleanup', () => {
    const a = tempSqliteUrl('orders');
    const b = tempSqliteUrl('orders');
    assert.notEqual(a.dir, b.dir);
    assert.equal(a.url, `sqlite:${a.path}`);
    assert.ok(a.path.startsWith(a.dir) && a.path.endsWith('orders.db'));
    writeFileSync(`${a.path}-wal`, '');
    a.cleanup();
    b.cleanup();
    assert.equal(existsSync(a.dir), false);
    assert.equal(existsSync(b.dir), false);
  });

  it('rejects names that are not plain file names', () => {
    assert.throws(() => tempSqliteUrl('../up'), /tempSqliteUrl\(name\) needs letters/);
  });
});

describe('pgAvailable', () => {
  it('answers false quickly for a port where nothing listens, and remembers the answer', async () => {
    const first = pgAvailable(UNREACHABLE, { connectTimeoutMs: 200 });
    assert.equal(pgAvailable(UNREACHABLE), first);
    assert.equal(await first, false);
  });

  it('answers true for the test server', { skip: pg.skip }, async () => {
    assert.equal(await pgAvailable(), true);
  });
});

describe('requirePg', () => {
  it('skips loudly, through the test context too, when the server is unreachable outside CI', async () => {
    const skipped: (string | undefined)[] = [];
    const result = await withCi(undefined, () => requirePg({ skip: (m) => skipped.push(m) }, UNREACHABLE));
    assert.equal(result.url, UNREACHABLE);
    assert.equal(
      result.skip,
      'PostgreSQL not reachable at postgres://postgres:***@127.0.0.1:1/postgres (start it, or set FLOTILLA_TEST_PG_URL)',
    );
    assert.deepEqual(skipped, [result.skip]);
  });

  it('throws instead of skipping when CI is set', async () => {
    await withCi('true', () =>
      assert.rejects(
        requirePg(undefined, UNREACHABLE),
        /PostgreSQL not reachable .*CI is set, so tests that need PostgreSQL fail/,
      ),
    );
  });

  it('does not skip when the server is reachable', { skip: pg.skip }, async () => {
    const skipped: (string | undefined)[] = [];
    assert.deepEqual(await requirePg({ skip: (m) => skipped.push(m) }), { url: testPgUrl(), skip: false });
    assert.deepEqual(skipped, []);
  });
});

describe('createTestDatabase', { skip: pg.skip }, () => {
  it('creates a uniquely named database that its URL reaches, and drops it (idempotently)', async (t) => {
    const a = await createTestDatabase({ prefix: 'store_helper' });
    const b = await createTestDatabase({ prefix: 'store_helper' });
    t.after(() => Promise.all([a.drop(), b.drop()]));
    assert.notEqual(a.name, b.name);
    assert.match(a.name, /^store_helper_/);
    const client = new (loadPg().Client)({ connectionString: a.url });
    await client.connect();
    const { rows } = await client.query('select current_database() as name');
    await client.end();
    assert.deepEqual(rows, [{ name: a.name }]);
    await a.drop();
    await a.drop();
    assert.equal(await databaseExists(a.name), false);
    assert.equal(await databaseExists(b.name), true);
  });

  it('drops a database that still has open connections', async () => {
    const database = await createTestDatabase({ prefix: 'store_helper' });
    const client = new (loadPg().Client)({ connectionString: database.url });
    client.on('error', () => {});
    await client.connect();
    await database.drop();
    assert.equal(await databaseExists(database.name), false);
    await client.end().catch(() => {});
  });

  it('rejects a prefix that is not a lowercase identifier', async () => {
    await assert.rejects(createTestDatabase({ prefix: 'Bad-Prefix' }), /createTestDatabase.prefix must be/);
  });
});
