import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  isMigrationChecksumError,
  isMigrationFailedError,
  isStoreClosedError,
  MigrationChecksumError,
  MigrationFailedError,
} from './errors.js';
import { deferred, dialectEnvironment, dialects, recordingLogger } from './fixtures/dialects.js';
import type { Migration } from './migration.js';
import { onTransactionEnd, openStore } from './open-store.js';

interface ShopDb {
  orders: { id: string; total_cents: number };
  order_lines: { order_id: string; sku: string };
}

const migrations: Migration[] = [
  { id: '0001_orders', up: 'create table orders (id text primary key, total_cents integer not null);' },
  {
    id: '0002_order_lines',
    up: [
      'create table order_lines (order_id text not null references orders (id), sku text not null)',
      'create index order_lines_order on order_lines (order_id)',
    ],
  },
];

for (const { dialect, skip } of await dialects()) {
  describe(`openStore on ${dialect}`, { skip }, () => {
    const env = dialectEnvironment(dialect, 'store_open');

    it('applies the migrations in order on open and reports them applied', async (t) => {
      let clock = 1_700_000_000_000;
      const logger = recordingLogger();
      const store = await env.open<ShopDb>(t, {
        service: 'orders',
        url: env.freshUrl(),
        migrations,
        logger,
        now: () => (clock += 5),
      });
      assert.deepEqual(
        logger.entries.map((e) => [e.level, e.msg, e.obj.migration]),
        [
          ['info', 'applied migration', '0001_orders'],
          ['info', 'applied migration', '0002_order_lines'],
          ['info', 'store opened', undefined],
        ],
      );
      assert.equal(store.dialect, dialect);
      assert.equal(store.service, 'orders');
      const status = await store.migrationStatus();
      assert.deepEqual(
        status.map((s) => [s.id, s.state]),
        [
          ['0001_orders', 'applied'],
          ['0002_order_lines', 'applied'],
        ],
      );
      assert.deepEqual(
        status.map((s) => s.appliedAt),
        [1_700_000_000_010, 1_700_000_000_020],
      );
      const rows = await sql<{ id: string; applied_at: number; duration_ms: number }>`
        select id, applied_at, duration_ms from flotilla_migrations order by id`.execute(store.db);
      assert.deepEqual(rows.rows, [
        { id: '0001_orders', applied_at: 1_700_000_000_010, duration_ms: 5 },
        { id: '0002_order_lines', applied_at: 1_700_000_000_020, duration_ms: 5 },
      ]);
      await store.db.insertInto('orders').values({ id: 'o-1', total_cents: 1250 }).execute();
      assert.deepEqual(await store.db.selectFrom('orders').selectAll().execute(), [
        { id: 'o-1', total_cents: 1250 },
      ]);
    });

    it('leaves migrations pending with migrate: false and applies only the new ones later', async (t) => {
      const url = env.freshUrl();
      const first = await openStore({ service: 'orders', url, migrations: migrations.slice(0, 1) });
      await first.close();
      const store = await env.open(t, { service: 'orders', url, migrations, migrate: false });
      assert.deepEqual(
        (await store.migrationStatus()).map((s) => s.state),
        ['applied', 'pending'],
      );
      assert.deepEqual(await store.migrate(), { applied: ['0002_order_lines'], unknown: [] });
      assert.deepEqual(await store.migrate(), { applied: [], unknown: [] });
      assert.deepEqual(
        (await store.migrationStatus()).map((s) => s.state),
        ['applied', 'applied'],
      );
    });

    it('commits a transaction whose function resolves', async (t) => {
      const store = await env.open<ShopDb>(t, { service: 'orders', url: env.freshUrl(), migrations });
      const result = await store.transaction(async (tx) => {
        await tx.insertInto('orders').values({ id: 'o-1', total_cents: 100 }).execute();
        await tx.insertInto('order_lines').values({ order_id: 'o-1', sku: 'SKU-1' }).execute();
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal((await store.db.selectFrom('order_lines').selectAll().execute()).length, 1);
    });

    it('rolls back a transaction whose function rejects, and rejects with its error', async (t) => {
      const store = await env.open<ShopDb>(t, { service: 'orders', url: env.freshUrl(), migrations });
      const failure = new Error('payment declined');
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertInto('orders').values({ id: 'o-1', total_cents: 100 }).execute();
          throw failure;
        }),
        (err) => err === failure,
      );
      assert.deepEqual(await store.db.selectFrom('orders').selectAll().execute(), []);
    });

    it('rolls back when the signal aborts mid-transaction, failing the next query with the reason', async (t) => {
      const store = await env.open<ShopDb>(t, { service: 'orders', url: env.freshUrl(), migrations });
      const controller = new AbortController();
      const reason = new Error('request cancelled');
      let secondInsert: unknown;
      await assert.rejects(
        store.transaction(
          async (tx) => {
            await tx.insertInto('orders').values({ id: 'o-1', total_cents: 100 }).execute();
            controller.abort(reason);
            secondInsert = await tx
              .insertInto('orders')
              .values({ id: 'o-2', total_cents: 100 })
              .execute()
              .catch((e: unknown) => e);
          },
          { signal: controller.signal },
        ),
        (err) => err === reason,
      );
      assert.equal(secondInsert, reason);
      assert.deepEqual(await store.db.selectFrom('orders').selectAll().execute(), []);
    });

    it('tells end listeners whether the transaction committed, before the caller resumes', async (t) => {
      const logger = recordingLogger();
      const store = await env.open<ShopDb>(t, { service: 'orders', url: env.freshUrl(), migrations, logger });
      const seen: string[] = [];
      let handle: object | undefined;
      await store.transaction(async (tx) => {
        handle = tx;
        await tx.insertInto('orders').values({ id: 'o-1', total_cents: 100 }).execute();
        assert.equal(
          onTransactionEnd(tx, (committed) => seen.push(`first ${committed}`)),
          true,
        );
        onTransactionEnd(tx, (committed) => {
          // The commit is visible to others when the listener runs.
          void store.db
            .selectFrom('orders')
            .selectAll()
            .execute()
            .then((rows) => seen.push(`rows ${rows.length}`));
          seen.push(`second ${committed}`);
          throw new Error('a listener failure does not reach the caller');
        });
      });
      assert.deepEqual(seen, ['first true', 'second true']);
      assert.deepEqual(
        logger.entries.filter((e) => e.level === 'error').map((e) => e.msg),
        ['a transaction end listener threw'],
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(seen, ['first true', 'second true', 'rows 1']);
      // Ended: a late listener is refused and never called.
      assert.equal(
        onTransactionEnd(handle as object, () => seen.push('late')),
        false,
      );
      await assert.rejects(
        store.transaction(
          async (tx) => {
            onTransactionEnd(tx, (committed) => seen.push(`rolled back ${committed}`));
            throw new Error('declined');
          },
          { signal: new AbortController().signal },
        ),
        /declined/,
      );
      assert.equal(seen.at(-1), 'rolled back false');
      assert.equal(
        onTransactionEnd({}, () => seen.push('unknown')),
        false,
      );
      await store.db.transaction().execute(async (tx) => {
        assert.equal(
          onTransactionEnd(tx, () => seen.push('kysely')),
          false,
        );
      });
      assert.equal(seen.length, 4);
    });

    it('does not start a transaction when the signal has already aborted', async (t) => {
      const store = await env.open<ShopDb>(t, { service: 'orders', url: env.freshUrl(), migrations });
      const reason = new Error('too late');
      let ran = false;
      await assert.rejects(
        store.transaction(
          async () => {
            ran = true;
          },
          { signal: AbortSignal.abort(reason) },
        ),
        (err) => err === reason,
      );
      assert.equal(ran, false);
    });

    it('refuses to open when an applied migration was edited, naming it and both checksums', async () => {
      const url = env.freshUrl();
      const original = await openStore({ service: 'orders', url, migrations });
      const applied = (await original.migrationStatus())[0]!.checksum;
      await original.close();
      const edited: Migration[] = [
        { id: '0001_orders', up: 'create table orders (id text primary key, total_cents bigint not null)' },
        migrations[1]!,
      ];
      const err = await openStore({ service: 'orders', url, migrations: edited }).catch((e: unknown) => e);
      assert.ok(err instanceof MigrationChecksumError);
      assert.ok(isMigrationChecksumError(err));
      assert.equal(err.code, 'MIGRATION_CHECKSUM');
      assert.equal(err.migrationId, '0001_orders');
      assert.equal(err.appliedChecksum, applied);
      assert.notEqual(err.expectedChecksum, applied);
      assert.match(err.message, new RegExp(`'0001_orders'.*${err.expectedChecksum}.*${applied}`));
    });

    it('opens with migrate: false despite an edited migration and shows it as checksum-mismatch', async (t) => {
      const url = env.freshUrl();
      await (await openStore({ service: 'orders', url, migrations })).close();
      const edited: Migration[] = [{ id: '0001_orders', up: 'create table orders (id text primary key)' }];
      const store = await env.open(t, {
        service: 'orders',
        url,
        migrations: [...edited, migrations[1]!],
        migrate: false,
      });
      const [first] = await store.migrationStatus();
      assert.equal(first?.state, 'checksum-mismatch');
      assert.notEqual(first?.checksum, first?.appliedChecksum);
      await assert.rejects(store.migrate(), isMigrationChecksumError);
    });

    it('tolerates applied migrations the code does not know, reporting them and warning once', async (t) => {
      const url = env.freshUrl();
      await (await openStore({ service: 'orders', url, migrations })).close();
      const logger = recordingLogger();
      const older = await env.open(t, { service: 'orders', url, migrations: migrations.slice(0, 1), logger });
      assert.deepEqual(
        (await older.migrationStatus()).map((s) => [s.id, s.state]),
        [
          ['0001_orders', 'applied'],
          ['0002_order_lines', 'applied-unknown'],
        ],
      );
      const warnings = logger.entries.filter((e) => e.level === 'warn');
      assert.equal(warnings.length, 1);
      assert.deepEqual(warnings[0]?.obj.migrations, ['0002_order_lines']);
    });

    it('rolls back the whole run when a migration fails and names the migration and statement', async (t) => {
      const url = env.freshUrl();
      const broken: Migration[] = [
        migrations[0]!,
        {
          id: '0002_broken',
          up: ['create table audit (id integer primary key)', 'insert into no_such_table values (1)'],
        },
      ];
      const err = await openStore({ service: 'orders', url, migrations: broken }).catch((e: unknown) => e);
      assert.ok(err instanceof MigrationFailedError);
      assert.ok(isMigrationFailedError(err));
      assert.equal(err.migrationId, '0002_broken');
      assert.equal(err.statementIndex, 1);
      assert.equal(err.statement, 'insert into no_such_table values (1)');
      assert.match(err.message, /'0002_broken'.*statements\[1\].*no_such_table/);
      assert.ok(err.cause instanceof Error);
      const store = await env.open(t, { service: 'orders', url, migrations: broken, migrate: false });
      assert.deepEqual(
        (await store.migrationStatus()).map((s) => s.state),
        ['pending', 'pending'],
      );
      const tables =
        dialect === 'sqlite'
          ? await sql`select name from sqlite_master where name in ('orders', 'audit')`.execute(store.db)
          : await sql`select table_name from information_schema.tables
                      where table_schema = current_schema() and table_name in ('orders', 'audit')`.execute(
              store.db,
            );
      assert.deepEqual(tables.rows, []);
    });

    it('rolls back the whole run and rejects with the reason when migrate is aborted midway', async (t) => {
      const controller = new AbortController();
      const reason = new Error('shutting down');
      let calls = 0;
      // now() is read when each migration starts and ends: the third read starts the second one.
      const now = (): number => {
        calls++;
        if (calls === 3) controller.abort(reason);
        return 1_000 + calls;
      };
      const store = await env.open(t, {
        service: 'orders',
        url: env.freshUrl(),
        migrations,
        migrate: false,
        now,
      });
      await assert.rejects(store.migrate({ signal: controller.signal }), (err) => err === reason);
      assert.deepEqual(
        (await store.migrationStatus()).map((s) => s.state),
        ['pending', 'pending'],
      );
    });

    it('has a passing health check named database that reports the dialect', async (t) => {
      const store = await env.open(t, { service: 'orders', url: env.freshUrl() });
      const check = store.healthCheck();
      assert.equal(check.name, 'database');
      const result = await check.check(new AbortController().signal);
      assert.equal(result?.details?.dialect, dialect);
    });

    it('fails the health check clearly once the store is closed', async () => {
      const store = await openStore({ service: 'orders', url: env.freshUrl() });
      const check = store.healthCheck();
      await store.close();
      await assert.rejects(check.check(new AbortController().signal), (err) => {
        assert.ok(isStoreClosedError(err));
        assert.match(
          (err as Error).message,
          /store of service 'orders' is closed \(health check after close\(\)\)/,
        );
        return true;
      });
    });

    it('closes idempotently and rejects queries and transactions afterwards', async () => {
      const store = await openStore<ShopDb>({ service: 'orders', url: env.freshUrl(), migrations });
      const first = store.close();
      assert.equal(store.close(), first);
      await first;
      await assert.rejects(store.db.selectFrom('orders').selectAll().execute(), isStoreClosedError);
      await assert.rejects(
        store.transaction(async () => {}),
        isStoreClosedError,
      );
      await assert.rejects(store.migrationStatus(), isStoreClosedError);
    });

    it('lets a running transaction finish before closing, and refuses new ones meanwhile', async () => {
      const store = await openStore<ShopDb>({ service: 'orders', url: env.freshUrl(), migrations });
      const inside = deferred();
      const release = deferred();
      const running = store.transaction(async (tx) => {
        await tx.insertInto('orders').values({ id: 'o-1', total_cents: 1 }).execute();
        inside.resolve();
        await release.promise;
        await tx.insertInto('orders').values({ id: 'o-2', total_cents: 2 }).execute();
      });
      await inside.promise;
      let closed = false;
      const closing = store.close().then(() => (closed = true));
      await assert.rejects(
        store.transaction(async () => {}),
        isStoreClosedError,
      );
      assert.equal(closed, false);
      release.resolve();
      await running;
      await closing;
      assert.equal(closed, true);
    });
  });
}

describe('openStore options', () => {
  it('rejects a missing or malformed service name', async () => {
    await assert.rejects(openStore({ service: '' }), /service must be 1-100 letters/);
    await assert.rejects(openStore({ service: 'a/b', url: ':memory:' }), /got a\/b/);
  });

  it('rejects an unsupported URL scheme without opening anything', async () => {
    await assert.rejects(openStore({ service: 'orders', url: 'mysql://u:secret@h/db' }), (err) => {
      assert.match((err as Error).message, /url scheme 'mysql:' is not supported/);
      assert.doesNotMatch((err as Error).message, /secret/);
      return true;
    });
  });

  it('rejects invalid migrations before touching the database', async () => {
    await assert.rejects(
      openStore({ service: 'orders', url: ':memory:', migrations: [migrations[1]!, migrations[0]!] }),
      /migrations\[1\]\.id '0001_orders' must sort after the previous id '0002_order_lines'/,
    );
  });

  it('aborts opening when the signal has already aborted', async () => {
    const reason = new Error('shutting down');
    await assert.rejects(
      openStore({ service: 'orders', url: ':memory:', signal: AbortSignal.abort(reason) }),
      (err) => err === reason,
    );
  });
});
