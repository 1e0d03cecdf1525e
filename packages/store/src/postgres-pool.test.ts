import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { deferred, recordingLogger } from './fixtures/dialects.js';
import { migrationLockKey } from './migrator.js';
import { openStore, type Store, type StoreOptions } from './open-store.js';
import { loadPg } from './pg-module.js';
import { createTestDatabase, queryDatabase, requirePg, type TestDatabase } from './testing.js';

const pg = await requirePg();

describe('PostgreSQL store', { skip: pg.skip }, () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase({ prefix: 'store_pg' });
  });
  after(() => database?.drop());

  const withSchema = (schema: string): string => {
    const url = new URL(database.url);
    url.searchParams.set('schema', schema);
    return url.toString();
  };
  async function open<DB = unknown>(t: { after(fn: () => unknown): void }, options: StoreOptions) {
    const store = await openStore<DB>(options);
    t.after(() => store.close());
    return store;
  }

  it('keeps each service in its own schema, created when absent', async (t) => {
    const before = await queryDatabase(
      database.url,
      "select nspname from pg_namespace where nspname in ('orders', 'payments')",
    );
    assert.deepEqual(before, []);
    const ledger = [{ id: '0001_ledger', up: 'create table ledger (id bigserial primary key, note text)' }];
    const orders = await open(t, { service: 'orders', url: withSchema('orders'), migrations: ledger });
    const payments = await open(t, { service: 'payments', url: withSchema('payments'), migrations: ledger });
    await sql`insert into ledger (note) values ('order placed')`.execute(orders.db);
    const tables = await queryDatabase(
      database.url,
      `select table_schema, table_name from information_schema.tables
       where table_schema in ('orders', 'payments') order by table_schema, table_name`,
    );
    assert.deepEqual(tables, [
      { table_schema: 'orders', table_name: 'flotilla_migrations' },
      { table_schema: 'orders', table_name: 'ledger' },
      { table_schema: 'payments', table_name: 'flotilla_migrations' },
      { table_schema: 'payments', table_name: 'ledger' },
    ]);
    const seen = await sql<{ note: string }>`select note from ledger`.execute(payments.db);
    assert.deepEqual(seen.rows, []);
  });

  it('reads int8 and numeric values, and arrays of them, as numbers', async (t) => {
    const store = await open(t, { service: 'numbers', url: withSchema('numbers') });
    const { rows } = await sql`
      select 9007199254740991::int8 as big, count(*) as n, 12.50::numeric as price,
             array[1, 2]::int8[] as ids, array[[1.5], [2.5]]::numeric[] as grid, null::int8 as missing
      from (values (1), (2)) v`.execute(store.db);
    assert.deepEqual(rows, [
      { big: 9007199254740991, n: 2, price: 12.5, ids: [1, 2], grid: [[1.5], [2.5]], missing: null },
    ]);
  });

  it('rejects an int8 beyond the safe integer range instead of rounding it', async (t) => {
    const store = await open(t, { service: 'numbers', url: withSchema('numbers_big') });
    await assert.rejects(
      sql`select 9007199254740993::int8 as v`.execute(store.db),
      /9007199254740993 is outside the safe integer range/,
    );
    const { rows } = await sql`select 9007199254740993::int8::text as v`.execute(store.db);
    assert.deepEqual(rows, [{ v: '9007199254740993' }]);
  });

  it("leaves pg's global type parsers alone", async (t) => {
    await open(t, { service: 'numbers', url: withSchema('numbers_global') });
    assert.deepEqual(await queryDatabase(database.url, 'select 5::int8 as v'), [{ v: '5' }]);
  });

  it('logs an idle connection that dies instead of crashing, and keeps working', async (t) => {
    const logger = recordingLogger();
    const logged = deferred();
    const store = await open(t, {
      service: 'fragile',
      url: withSchema('fragile'),
      logger: {
        ...logger,
        error(obj, msg) {
          logger.error(obj, msg);
          logged.resolve();
        },
      },
    });
    await sql`select 1`.execute(store.db);
    const killed = await queryDatabase(
      database.url,
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where datname = current_database() and application_name = 'fragile' and pid <> pg_backend_pid()`,
    );
    assert.deepEqual(killed, [{ ok: true }]);
    await logged.promise;
    const [entry] = logger.entries.filter((e) => e.level === 'error');
    assert.equal(entry?.msg, 'idle PostgreSQL connection failed');
    // Logged once: the listener for connections in use stays quiet about idle ones.
    assert.deepEqual(
      logger.entries.filter((e) => e.level === 'warn'),
      [],
    );
    assert.equal(entry?.obj.service, 'fragile');
    assert.ok(entry?.obj.err instanceof Error);
    const { rows } = await sql<{ v: number }>`select 2 as v`.execute(store.db);
    assert.deepEqual(rows, [{ v: 2 }]);
  });

  it('fails a transaction whose connection is terminated mid-way, without crashing, and keeps working', async (t) => {
    const logger = recordingLogger();
    const store = await open(t, {
      service: 'inflight',
      url: withSchema('inflight'),
      pool: { max: 1 },
      logger,
    });
    const inside = deferred();
    const killed = deferred();
    // Between two statements the connection is checked out but idle: its failure arrives as an
    // 'error' event of the client, which must not reach the process as an uncaught exception.
    const transaction = store.transaction(async (tx) => {
      await sql`select 1`.execute(tx);
      inside.resolve();
      await killed.promise;
      await sql`select 2`.execute(tx);
    });
    const failure = assert.rejects(transaction, /terminat|not queryable|Connection/i);
    await inside.promise;
    const rows = await queryDatabase(
      database.url,
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where datname = current_database() and application_name = 'inflight' and pid <> pg_backend_pid()`,
    );
    assert.deepEqual(rows, [{ ok: true }]);
    // Let the termination reach the client before the transaction goes on.
    await new Promise((resolve) => setTimeout(resolve, 200));
    killed.resolve();
    await failure;
    // The dead connection left the pool (of one): the next transaction gets a fresh one.
    const { rows: after } = await sql<{ v: number }>`select 3 as v`.execute(store.db);
    assert.deepEqual(after, [{ v: 3 }]);
    assert.deepEqual(
      logger.entries.filter((e) => e.level !== 'info').map((e) => [e.level, e.msg, e.obj.service]),
      [
        [
          'warn',
          'PostgreSQL connection failed while in use; its transaction fails and the pool replaces it',
          'inflight',
        ],
      ],
    );
  });

  it('reports pool counts in the health check details', async (t) => {
    const store = await open(t, { service: 'health', url: withSchema('health'), pool: { max: 3 } });
    const result = await store.healthCheck().check(new AbortController().signal);
    assert.deepEqual(result?.details, { dialect: 'postgres', totalCount: 1, idleCount: 1, waitingCount: 0 });
  });

  it('fails the health check with the signal reason when the check times out', async (t) => {
    const store: Store<unknown> = await open(t, {
      service: 'slow',
      url: withSchema('slow'),
      pool: { max: 1 },
    });
    const busy = deferred();
    const holding = store.transaction(async () => busy.promise);
    const controller = new AbortController();
    const check = store.healthCheck().check(controller.signal);
    const reason = new Error('check timed out');
    controller.abort(reason);
    await assert.rejects(check, (err) => err === reason);
    busy.resolve();
    await holding;
  });

  it('applies a plpgsql function with a dollar-quoted body as one statement', async (t) => {
    const store = await open(t, {
      service: 'fn',
      url: withSchema('fn'),
      migrations: [
        {
          id: '0001_fn',
          up: `
            create function add_tax(cents bigint) returns bigint language plpgsql as $$
            begin
              -- semicolons inside the body do not end the migration statement;
              return cents + cents / 5;
            end;
            $$;
            create table prices (cents bigint not null);`,
        },
      ],
    });
    const { rows } = await sql<{ v: number }>`select add_tax(100) as v`.execute(store.db);
    assert.deepEqual(rows, [{ v: 120 }]);
  });

  it('waits for the advisory lock before migrating, then re-reads and applies', async (t) => {
    const url = withSchema('locked');
    const migrations = [{ id: '0001_t', up: 'create table t (id int)' }];
    const store = await open(t, { service: 'locked', url, migrations, migrate: false });
    const holder = new (loadPg().Client)({ connectionString: database.url });
    await holder.connect();
    t.after(() => holder.end());
    await holder.query('select pg_advisory_lock($1::bigint)', [migrationLockKey('locked', 'locked')]);
    const migrating = store.migrate();
    let waiting = 0;
    for (let attempt = 0; attempt < 500 && waiting === 0; attempt++) {
      const rows = await queryDatabase(
        database.url,
        "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted",
      );
      waiting = Number(rows[0]?.n);
    }
    assert.equal(waiting, 1, 'migrate() should be waiting on the advisory lock');
    assert.deepEqual(
      (await store.migrationStatus()).map((s) => s.state),
      ['pending'],
    );
    await holder.query('select pg_advisory_unlock($1::bigint)', [migrationLockKey('locked', 'locked')]);
    assert.deepEqual(await migrating, { applied: ['0001_t'], unknown: [] });
  });
});

describe('PostgreSQL migration lock key', () => {
  it('is a fixed signed 64-bit number per service and schema, the same in every version', () => {
    // Pinned: instances of an old and a new version must take the same lock during a rolling deploy.
    const key = migrationLockKey('orders', undefined);
    assert.equal(key, '-3654760407557380741');
    assert.equal(migrationLockKey('orders', 'orders'), '272032030797866441');
    assert.notEqual(migrationLockKey('orders', 'orders'), key);
    assert.notEqual(migrationLockKey('payments', undefined), key);
  });
});

describe('PostgreSQL store without a server', () => {
  it('names the unreachable server, without its password, when opening fails', async () => {
    await assert.rejects(
      openStore({
        service: 'orders',
        url: 'postgres://app:secret@127.0.0.1:1/orders',
        pool: { connectTimeoutMs: 500 },
      }),
      (err: Error) => {
        assert.match(err.message, /cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/orders/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
  });

  it('rejects invalid pool options, naming the field', async () => {
    await assert.rejects(
      openStore({ service: 'orders', url: 'postgres://127.0.0.1:1/x', pool: { max: 0 } }),
      /pool.max must be an integer >= 1, got 0/,
    );
  });
});
